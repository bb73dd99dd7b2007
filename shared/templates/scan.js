(function () {
  var panel = document.getElementById("scan");
  if (!panel || !window.fetch) return;
  var url = panel.getAttribute("data-status");
  function show(status) {
    var parts = panel.querySelectorAll("[data-scan]");
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = parts[i].getAttribute("data-scan").split(" ").indexOf(status) < 0;
    }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.status === "approved" && body.continue) { window.location.assign(body.continue); return; }
        show(body.status);
        if (body.status === "pending" || body.status === "scanned") setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();