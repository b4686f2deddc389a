// Small behaviours htmx does not cover: dialogs (with their focus), confirmations, copy link,
// keeping keyboard focus where a person expects it when the room's sections are swapped, and
// telling the room socket whether the room is on screen (captions go only to visible rooms).
(function () {
  "use strict";

  var FOCUSABLE = "button:not([disabled]), a[href], input:not([type=hidden]):not([disabled]), textarea, select, [tabindex='-1'][data-focus-after-swap]";

  function focusables(root) {
    return Array.prototype.filter.call(root.querySelectorAll(FOCUSABLE), function (el) {
      return el.getClientRects().length > 0 && !el.closest("[hidden]");
    });
  }

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !document.contains(active);
  }

  function openDialog(dialog) {
    if (dialog && !dialog.open) dialog.showModal();
  }

  // A confirmation asked before a room action that cannot simply be taken back (Remove, Block):
  // the person's button names the action, the dialog repeats it with their name and posts it.
  function askToConfirm(button) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog) return;
    var form = dialog.querySelector("form[data-confirm-form]");
    var action = button.getAttribute("data-confirm-label");
    dialog.querySelector("#confirm-heading").textContent = button.getAttribute("data-confirm-question");
    dialog.querySelector("#confirm-text").textContent = button.getAttribute("data-confirm-text");
    form.setAttribute("action", button.getAttribute("data-confirm"));
    form.setAttribute("hx-post", button.getAttribute("data-confirm"));
    form.querySelector("button[type=submit]").textContent = action;
    if (window.htmx) window.htmx.process(form);
    openDialog(dialog);
  }

  document.addEventListener("click", function (event) {
    var confirmer = event.target.closest("[data-confirm]");
    if (confirmer) { askToConfirm(confirmer); return; }
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      // A dialog filled by htmx (the report form) shows "Loading…" until its content arrives.
      var body = opener.hasAttribute("hx-get") && document.querySelector(opener.getAttribute("hx-target"));
      if (body) body.innerHTML = '<p class="muted">Loading…</p>';
      var note = dialog && dialog.querySelector("[data-dialog-note]");
      if (note) note.textContent = "";
      openDialog(dialog);
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

  // Feedback belongs to the action that caused it: the room's status line is cleared when the
  // person acts again, so "Posted to your followers." does not linger through later changes.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.requestConfig && event.detail.requestConfig.verb === "get") return;
    var status = document.getElementById("status");
    if (status && document.getElementById("room-live")) status.textContent = "";
    var flash = document.getElementById("flash");
    if (flash) flash.textContent = "";
    var dialog = event.target.closest && event.target.closest("dialog");
    var note = dialog && dialog.querySelector("[data-dialog-note]");
    if (note) { note.textContent = ""; note.classList.remove("refused"); }
  });

  // A form marked data-reset-on-success starts empty again once its action worked.
  // A refusal inside a dialog shows in the dialog, not only behind it in the page's alert area.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (event.detail.successful && form.matches && form.matches("form[data-reset-on-success]")) form.reset();
    var dialog = form.closest && form.closest("dialog[open]");
    var note = dialog && dialog.querySelector("[data-dialog-note]");
    if (!note || event.detail.successful) return;
    setTimeout(function () {
      var flash = document.getElementById("flash");
      note.textContent = flash ? flash.textContent.trim() : "";
      note.classList.add("refused");
    }, 0);
  });

  // Focus -----------------------------------------------------------------------------------
  // A section swapped while it holds the focus (the person's own action, or a push) would drop
  // it to the page, 20 Tabs from where they were. Remember where it was, then put it on the
  // control now in that place: Join -> Request to speak, Request -> Cancel request, Approve ->
  // the next request's Approve, Allow captions -> Turn on microphone, Turn on -> Turn off.
  var held = null;

  function remember(section) {
    var active = document.activeElement;
    if (!section || !section.id || !active || !section.contains(active)) return;
    var inner = active.closest("[role=dialog]");
    if (inner === section) inner = null;
    held = {
      id: section.id,
      dialog: inner && inner.getAttribute("aria-labelledby"),
      index: Math.max(0, focusables(inner || section).indexOf(active)),
    };
  }

  function restore() {
    if (!held) return;
    var place = held;
    held = null;
    if (!focusLost()) return;
    var section = document.getElementById(place.id);
    if (!section) return;
    var list = focusables(section);
    if (place.dialog) {
      var same = section.querySelector("[role=dialog][aria-labelledby='" + place.dialog + "']");
      // Still asking: the same button of the question. Answered: the first control after it.
      list = same ? focusables(same) : list.filter(function (el) { return !el.closest("[role=dialog]"); });
      if (!same) place.index = 0;
    }
    var target = section.querySelector("[data-focus-after-swap]") ||
      list[Math.min(place.index, list.length - 1)];
    if (!target) {
      target = section.querySelector("h1, h2, h3");
      if (target) target.setAttribute("tabindex", "-1");
    }
    if (target) target.focus();
  }

  // A pushed section the same as the one on screen is not swapped: the room socket's first
  // message repeats the whole room, and replacing a button under a press in that instant lost
  // the click (the press landed on a node that was gone). Forms' CSRF inputs are left out of the
  // comparison: a page's render has them (each token different, all valid for the session), a
  // push has none (htmx sends the token as a header). Live regions are swapped anyway, so a
  // message said twice is announced twice.
  function withoutTokens(node) {
    var copy = node.cloneNode(true);
    copy.querySelectorAll("input[name=csrf_token]").forEach(function (input) { input.remove(); });
    copy.normalize();
    return copy;
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail, fragment = detail.fragment, target = detail.target;
    if (!fragment || fragment.childNodes.length !== 1 || !target) return;
    if (fragment.firstChild.nodeType !== 1 || target.matches("[aria-live], [role=status], [role=alert]")) return;
    if (withoutTokens(fragment.firstChild).isEqualNode(withoutTokens(target))) detail.shouldSwap = false;
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) { remember(event.detail.target); });
  document.addEventListener("htmx:beforeSwap", function (event) { remember(event.detail.target); });
  // At once after a push's swap, not on a timer: a key pressed in between (input comes before
  // timers) would land on the page instead of the control now in that place.
  document.addEventListener("htmx:oobAfterSwap", restore);
  document.addEventListener("htmx:afterSettle", function () { setTimeout(restore, 0); });

  // htmx wires the forms a request's answer brings only when it settles (20 ms later), but the
  // focus is put on their buttons at once: Enter in between posted the form without htmx, a
  // full page load in the room. So a form not wired yet is wired as it is submitted; htmx's own
  // listener on the form (added now) still takes this very submit, as the event has not
  // reached the form yet. Wiring a form again is a no-op.
  document.addEventListener("submit", function (event) {
    if (window.htmx && event.target instanceof HTMLFormElement) window.htmx.process(event.target);
  }, true);

  // Content loaded into an open dialog (the report form) takes the focus: its first control.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.matches || !target.matches("[data-dialog-body]")) return;
    var first = target.querySelector("[data-focus-after-swap]") || focusables(target)[0];
    if (first) first.focus();
  });

  // The Captions question sits in the person's controls, not in a <dialog>: it takes the focus
  // when it appears and keeps Tab inside until it is answered.
  var asking = false;
  function takeFocusForQuestion() {
    var question = document.querySelector("[role=dialog][data-takes-focus]");
    if (!question) { asking = false; return; }
    if (asking || document.querySelector("dialog[open]")) return;  // re-rendered, not new
    asking = true;
    var first = focusables(question)[0];
    if (first) first.focus();
  }
  document.addEventListener("DOMContentLoaded", takeFocusForQuestion);
  document.addEventListener("htmx:oobAfterSwap", function () { setTimeout(takeFocusForQuestion, 0); });
  document.addEventListener("htmx:afterSettle", function () { setTimeout(takeFocusForQuestion, 0); });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") return;
    var trap = event.target.closest && event.target.closest("[role=dialog][data-takes-focus]");
    if (!trap) return;
    var list = focusables(trap);
    if (!list.length) return;
    var first = list[0], last = list[list.length - 1];
    if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
  });

  // A rename shows at once in the tab's title and (through data-space-title) the docked player.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var meta = event.detail.target;
    if (!meta || meta.id !== "space-meta") return;
    var fresh = document.getElementById("space-meta");
    var title = fresh && fresh.getAttribute("data-space-title");
    var room = document.getElementById("room-live");
    if (!title || !room) return;
    room.setAttribute("data-space-title", title);
    document.title = title + " · Spaces";
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
