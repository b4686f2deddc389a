// Small behaviours htmx does not cover: dialogs, copy link, and telling the room socket
// whether the room is on screen (captions go only to visible rooms).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && !dialog.open) dialog.showModal();
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) setTimeout(function () { parent.close(); }, 0);
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var field = document.getElementById(copy.getAttribute("data-copy"));
      if (!field) return;
      field.select();
      var done = function () { copy.textContent = "Copied"; };
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, done);
      else { document.execCommand("copy"); done(); }
    }
  });

  // Every htmx request carries the CSRF token of the page now shown. It is read from <main>,
  // which hx-boost navigation replaces, so a sign-in (a new session, a new token) is followed.
  document.addEventListener("htmx:configRequest", function (event) {
    var main = document.getElementById("content");
    var token = main && main.getAttribute("data-csrf-token");
    if (token) event.detail.headers["X-CSRFToken"] = token;
  });

  // The room socket: remember it so the page can say when it is hidden or shown.
  var roomSocket = null;
  function sendVisibility() {
    if (!roomSocket) return;
    var docked = document.body.classList.contains("docked");
    roomSocket.send(JSON.stringify({ type: "visibility", visible: !document.hidden && !docked }));
  }
  document.addEventListener("htmx:wsOpen", function (event) {
    roomSocket = event.detail.socketWrapper;
    sendVisibility();
  });
  // The room socket's close codes that no fragment explains (the htmx ws extension reconnects
  // only after 1006, 1011, 1012 and 1013, so none of these loops).
  var CLOSED = { 4429: "Too many connections to this Space are open: close another tab, then reload." };
  document.addEventListener("htmx:wsClose", function (event) {
    roomSocket = null;
    var text = CLOSED[event.detail.event && event.detail.event.code];
    var status = document.getElementById("status");
    if (text && status) status.textContent = text;
  });
  document.addEventListener("visibilitychange", sendVisibility);
  window.Spaces = window.Spaces || {};
  window.Spaces.sendVisibility = sendVisibility;
})();
