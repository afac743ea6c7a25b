/* Draw every Plotly figure on the page from its JSON script, and again after HTMX swaps content in.
   A chart element: <div class="chart" data-figure="ID"> with <script type="application/json" id="ID">.
   Sankey charts with data-drill="URL" load the customers behind a clicked node or link into data-target. */
(function () {
  "use strict";
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function drawAll(root) {
    if (!window.Plotly) { return; }
    (root || document).querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var source = document.getElementById(el.dataset.figure);
      if (!source) { return; }
      var fig = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, fig.data, fig.layout || {}, config).then(function () {
        if (el.dataset.drill) { wireDrill(el, fig); }
      });
    });
  }

  function wireDrill(el, fig) {
    var meta = (fig.layout && fig.layout.meta) || {};
    el.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point) { return; }
      var params = new URLSearchParams(el.dataset.drillQuery || "");
      if (point.source !== undefined && point.target !== undefined && meta.links) {
        var link = meta.links[point.pointNumber];
        if (!link) { return; }
        params.set("link", link[0] + "|" + link[1]);
      } else if (meta.nodes) {
        var node = meta.nodes[point.pointNumber];
        if (!node) { return; }
        params.set("node", node);
      }
      var url = el.dataset.drill + "?" + params.toString();
      if (window.htmx) { window.htmx.ajax("GET", url, { target: el.dataset.target, swap: "innerHTML" }); }
      else { window.location.href = url; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (e) {
    drawAll(e.target);
    var heading = e.target.querySelector && e.target.querySelector("[tabindex='-1']");
    if (heading) { heading.focus(); }  /* keyboard and screen-reader users land on what just loaded */
  });
})();
