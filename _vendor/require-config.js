// Resolve AMD module paths against the book's _static/ folder (where require.js itself was loaded from), so the
// widget manager finds its fonts in the book's own copy at _static/@jupyter-widgets/html-manager/dist/.
(function () {
  var script = document.querySelector('script[src*="require.js"]');
  if (script && window.require) {
    window.require.config({ baseUrl: script.src.replace(/require\.js.*$/, "") });
  }
})();
