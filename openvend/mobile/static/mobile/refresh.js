/* A receipt whose payment or refund is still under way looks again every 2 s, up to a minute. */
(function () {
  "use strict";
  var key = "openvend-refresh:" + window.location.pathname;
  var count = Number(window.sessionStorage.getItem(key) || "0");
  if (!document.querySelector("[data-settling]")) { window.sessionStorage.removeItem(key); return; }
  if (count >= 30) { return; }
  window.sessionStorage.setItem(key, String(count + 1));
  window.setTimeout(function () { window.location.reload(); }, 2000);
}());
