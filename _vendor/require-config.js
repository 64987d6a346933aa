// Set-up for the widget manager (@jupyter-widgets/html-manager), loaded between require.js and embed-amd.js.
(function () {
  // 1. Resolve the manager's module against the book's _static/ folder (where require.js was loaded from), so
  //    it finds its fonts in the book's own copy at _static/@jupyter-widgets/html-manager/dist/.
  var script = document.querySelector('script[src*="require.js"]');
  if (script && window.require) {
    window.require.config({
      baseUrl: script.src.replace(/require\.js.*$/, ""),
      // both of the manager's modules then live in .../html-manager/dist/ (requirejs takes the longest prefix)
      paths: {
        "@jupyter-widgets/html-manager": "@jupyter-widgets/html-manager/dist/embed-amd",
        "@jupyter-widgets/html-manager/dist": "@jupyter-widgets/html-manager/dist",
      },
    });
  }
  // 2. The manager typesets widget outputs with MathJax 2's MathJax.Hub.Queue; the book loads MathJax 3 (or
  //    none, offline), which has no Hub. Forward those calls to MathJax 3's typesetPromise, or drop them.
  function ensureHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub) return;
    mj.Hub = {
      Config: function () {},
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise(job[2] ? [job[2]] : undefined).catch(function () {});
          }
        }
      },
    };
  }
  ensureHub();
  document.addEventListener("DOMContentLoaded", ensureHub);
  window.addEventListener("load", ensureHub);
})();
