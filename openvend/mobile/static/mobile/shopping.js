/* The visit page follows its session: every 1.5 s it asks where the visit stands, shows the
   sentence for that step, and goes to the receipt once there is one. A cart page stays put (the
   shopper may be typing) and only shows the receipt link. */
(function () {
  "use strict";
  var box = document.querySelector("[data-poll]");
  if (!box) { return; }
  var hasCart = !!document.querySelector("[data-testid=cart]");
  var status = box.querySelector("[data-testid=visit-status]");
  var link = box.querySelector("[data-testid=receipt-link]");
  var INTERVAL_MS = 1500;

  function show(data) {
    box.setAttribute("data-state", data.state);
    status.textContent = data.text;
    if (data.receipt_url) {
      link.href = data.receipt_url;
      link.hidden = false;
      if (!hasCart) { window.location.assign(data.receipt_url); return false; }
    }
    return !data.final;
  }

  function poll() {
    fetch(box.getAttribute("data-poll"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data === null || show(data)) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS); });
  }

  if (!box.hasAttribute("data-final")) { window.setTimeout(poll, INTERVAL_MS); }
}());
