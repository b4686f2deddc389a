// Reactions and raised hands (issue 17; spaces/reactions.py, spaces/realtime/reactions_relay.py).
// The Reactions group's buttons send on the room's live socket. Reactions arrive on it as small
// JSON messages (taken here before htmx's ws extension would parse them as HTML) and show on the
// reactor's item for a few seconds. Screen readers get one polite summary at most every few
// seconds ("3 reactions: 2 Clap, 1 Heart. ana raised a hand."), never one announcement each.
// A guest's reaction carries no name: it shows by the "N guests" count (data-reactor="guest"),
// labelled "Clap from a guest", and the summary counts it ("1 from a guest").
(function () {
  "use strict";

  var SHOW_MS = 4000;      // a reaction on an item (reactions.SHOW_SECONDS)
  var SUMMARY_MS = 5000;   // at most one summary this often
  var GATHER_MS = 1500;    // a burst is summed up once it has had a moment to arrive
  var RATE = 3, BURST = 6; // the server's allowance (reactions.RATE, BURST): more is never sent

  var socket = null;
  document.addEventListener("htmx:wsOpen", function (event) { socket = event.detail.socketWrapper; });
  document.addEventListener("htmx:wsClose", function () { socket = null; });

  // Sending --------------------------------------------------------------------------------
  // One allowance for reactions, one for the hand (raised at once even after a burst of claps).
  var allowance = { react: { tokens: BURST, last: Date.now() }, hand: { tokens: BURST, last: Date.now() } };
  function take(what) {
    var a = allowance[what], t = Date.now();
    a.tokens = Math.min(BURST, a.tokens + (t - a.last) / 1000 * RATE);
    a.last = t;
    if (a.tokens < 1) return false;
    a.tokens -= 1;
    return true;
  }

  function say(text) {
    var status = document.getElementById("status");
    if (status) status.textContent = text;
  }

  function send(message) {
    if (!socket) { say("Reactions need the live connection, which is reconnecting. Try again in a moment."); return; }
    if (!take(message.type)) return;  // held down or pressed very fast: the extra ones are dropped quietly
    socket.send(JSON.stringify(message));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reactions] button");
    if (!button) return;
    if (button.hasAttribute("data-reaction")) {
      send({ type: "react", reaction: button.getAttribute("data-reaction") });
    } else if (button.hasAttribute("data-hand")) {
      send({ type: "hand", raised: button.getAttribute("data-hand") === "raise" });
    }
  });

  // Showing --------------------------------------------------------------------------------
  var showing = {};  // reactor key -> {emoji, label, until, timer}

  function paint(who) {
    var shown = showing[who];
    var slots = document.querySelectorAll('.reaction[data-reactor="' + CSS.escape(who) + '"]');
    Array.prototype.forEach.call(slots, function (slot) {
      if (shown) {
        slot.textContent = shown.emoji;
        slot.setAttribute("role", "img");
        slot.setAttribute("aria-label", shown.label);
        slot.setAttribute("title", shown.label);
        slot.classList.add("on");
      } else {
        slot.textContent = "";
        slot.removeAttribute("role");
        slot.removeAttribute("aria-label");
        slot.removeAttribute("title");
        slot.classList.remove("on");
      }
    });
  }

  function show(who, emoji, label) {
    var old = showing[who];
    if (old) clearTimeout(old.timer);
    showing[who] = {
      emoji: emoji,
      label: label,
      until: Date.now() + SHOW_MS,
      timer: setTimeout(function () { delete showing[who]; paint(who); }, SHOW_MS),
    };
    paint(who);
  }

  // A pushed section brings fresh, empty slots: what is still showing is shown again there.
  document.addEventListener("htmx:oobAfterSwap", function () {
    Object.keys(showing).forEach(paint);
  });

  // The summary ----------------------------------------------------------------------------
  var counts = {}, order = [], hands = [], fromGuests = 0, lastSaid = 0, pending = null;

  function me() {
    var main = document.getElementById("content");
    var id = main && main.getAttribute("data-me");
    return id ? "u" + id : null;
  }

  function summarize() {
    pending = null;
    var total = order.reduce(function (n, label) { return n + counts[label]; }, 0);
    var parts = [];
    if (total) {
      parts.push(total + (total === 1 ? " reaction: " : " reactions: ") +
        order.map(function (label) { return counts[label] + " " + label; }).join(", ") + ".");
      if (fromGuests) parts.push(fromGuests === 1 ? "1 from a guest." : fromGuests + " from guests.");
    }
    if (hands.length) {
      var names = hands.length > 3 ? hands.slice(0, 3).join(", ") + " and " + (hands.length - 3) + " more" : hands.join(", ");
      parts.push(names + (hands.length === 1 ? " raised a hand." : " raised their hands."));
    }
    counts = {}; order = []; hands = []; fromGuests = 0;
    var region = document.getElementById("reactions-summary");
    if (!region || !parts.length) return;
    region.textContent = parts.join(" ");
    lastSaid = Date.now();
  }

  function note() {
    if (pending) return;
    var wait = Math.max(GATHER_MS, lastSaid + SUMMARY_MS - Date.now());
    pending = setTimeout(summarize, wait);
  }

  function count(label) {
    if (!(label in counts)) { counts[label] = 0; order.push(label); }
    counts[label] += 1;
    note();
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.charAt(0) !== "{") return;  // HTML: htmx swaps it
    event.preventDefault();
    var message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (message.type === "reaction") {
      show(message.who, message.emoji, message.from ? message.label + " from " + message.from : message.label);
      if (!message.mine && message.who !== me()) {
        if (message.from) fromGuests += 1;
        count(message.label);
      }
    } else if (message.type === "hand" && message.raised && message.who !== me()) {
      if (hands.indexOf(message.name) < 0) hands.push(message.name);
      note();
    }
  });
})();
