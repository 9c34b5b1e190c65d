// Progressive enhancement of the declaration's progress page: every two seconds,
// fetch the same page and swap in its #progress part until the chain is complete.
// Without JavaScript the page offers an "Actualiser maintenant" link.
(function () {
  "use strict";
  var region = document.getElementById("progress");
  if (!region || !window.fetch || !window.DOMParser) { return; }
  var live = document.createElement("p");
  live.className = "sr-only";
  live.setAttribute("aria-live", "polite");
  region.parentNode.insertBefore(live, region);
  function tick() {
    if (region.getAttribute("data-complete") === "true") { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html) {
          var next = new DOMParser().parseFromString(html, "text/html").getElementById("progress");
          if (next && next.innerHTML !== region.innerHTML) {
            var before = region.querySelectorAll("li.done").length;
            region.innerHTML = next.innerHTML;
            region.setAttribute("data-complete", next.getAttribute("data-complete"));
            var done = region.querySelectorAll("li.done").length;
            if (done > before) {
              live.textContent = region.getAttribute("data-complete") === "true"
                ? "Toutes les étapes sont terminées." : "Étape terminée : " + done + " sur 4.";
            }
          }
        }
        window.setTimeout(tick, 2000);
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 2000);
}());
