// Polls overview.json; when the revision changes, swaps in the new <main> rendered by the server.
(function () {
  var live = document.getElementById("live");
  function revision() {
    var s = document.querySelector("[data-revision]");
    return s ? s.getAttribute("data-revision") : "";
  }
  function tick() {
    fetch("overview.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (o) {
        live.textContent = "live, updated " + new Date(o.generated_at * 1000).toLocaleTimeString();
        if (o.revision === revision()) { return null; }
        return fetch("?fragment=main", { cache: "no-store" }).then(function (r) { return r.text(); })
          .then(function (html) { document.getElementById("overview").innerHTML = html; });
      })
      .catch(function (e) { live.textContent = "not updating: " + e.message; })
      .then(function () { setTimeout(tick, POLL_MS); });
  }
  setTimeout(tick, POLL_MS);
})();
