// The room's audio in the browser: the audio socket (docs/audio-protocol.md), playback through
// a jitter-buffer worklet, the microphone through a capture worklet, speaking indicators, the
// speaker's own level meter, reconnects, and the docked player that keeps a Space playing while
// the person moves around the site (hx-boost navigation; #docked-player is hx-preserve'd).
// Where WebCodecs has Opus (opus-wire.js) the socket speaks v2 (Opus); elsewhere v1 (bare PCM).
(function () {
  "use strict";

  // Close codes after which the audio does not come back (docs/audio-protocol.md), and what the
  // person is told.
  var NO_RETRY = {
    1000: "", 1008: "", 1009: "",
    4401: "The host turned guests off for this Space.",
    4403: "You were removed from this Space.",
    4404: "You left this Space.",
    4410: "This Space has ended.",
    4429: "Too many connections to this Space are open: close another tab, then reload.",
  };
  var LEFT_ON_LOGOUT = "spaces-left-on-logout"; // sessionStorage: the Space logging out left
  var state = {
    ctx: null, playback: null, capture: null, micStream: null, micSource: null,
    ws: null, spaceId: null, title: "", retries: 0, retryTimer: null, wanted: false,
    me: null, role: "", mic: "off", starting: false, dialing: false, audioAddress: null,
    codec: null, sender: null, receiver: null, // "opus" or "pcm", chosen before the first connect
  };
  window.SpacesAudio = state;

  function csrf() {
    var main = document.getElementById("content");
    return (main && main.getAttribute("data-csrf-token")) || "";
  }

  function say(text) {
    var box = document.getElementById("audio-status");
    if (box) box.textContent = text;
    var docked = document.querySelector("#docked-player .docked-status");
    if (docked) docked.textContent = text;
  }

  function ensureContext() {
    if (!state.ctx) {
      state.ctx = new (window.AudioContext || window.webkitAudioContext)();
    }
    if (state.ctx.state === "suspended") state.ctx.resume();
    return state.ctx;
  }

  function ensurePlayback() {
    var ctx = ensureContext();
    if (state.playback) return Promise.resolve(state.playback);
    return ctx.audioWorklet.addModule("/static/audio/playback-worklet.js").then(function () {
      if (state.playback) return state.playback;
      state.playback = new AudioWorkletNode(ctx, "spaces-playback", { outputChannelCount: [1] });
      state.playback.port.onmessage = function (event) { state.playbackStats = event.data; };
      state.playback.connect(ctx.destination);
      return state.playback;
    });
  }

  // The audio socket -------------------------------------------------------------------------

  function chooseCodec() {
    var wire = window.SpacesOpusWire;
    var check = wire ? wire.supported() : Promise.resolve(false);
    return check.then(function (opus) { state.codec = opus ? "opus" : "pcm"; });
  }

  function play(samples) {
    if (state.playback) state.playback.port.postMessage(samples, [samples.buffer]);
  }

  function connect() {
    if (state.ws || state.dialing || !state.spaceId) return;
    if (!state.codec) { chooseCodec().then(connect); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var own = scheme + location.host + "/spaces/" + state.spaceId + "/audio";
    var address = state.audioAddress;  // kept from the room page: a docked player goes on using it
    if (!address) return openSocket(own);
    // Edge nodes (README, "Edge nodes"): the core says where, with a fresh grant; listeners
    // go to an edge, the next one on each retry, speakers to the core.
    state.dialing = true;
    fetch(address, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { urls: [] }; })
      .catch(function () { return { urls: [] }; })
      .then(function (answer) {
        state.dialing = false;
        var urls = (answer.urls || []).map(function (u) {
          return u.charAt(0) === "/" ? scheme + location.host + u : u;
        });
        if (state.wanted && !state.ws) openSocket(urls.length ? urls[state.retries % urls.length] : own);
      });
  }

  // The codec's query goes on whichever address: the core's own, or an edge's (which already
  // carries its grant in the query), so an edge serves the same wire format the core would.
  function withCodec(url) {
    if (state.codec !== "opus") return url;
    var query = window.SpacesOpusWire.QUERY;
    return url.indexOf("?") < 0 ? url + query : url + "&" + query.slice(1);
  }

  function openSocket(url) {
    var ws = new WebSocket(withCodec(url));
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    if (state.codec === "opus" && !state.receiver) {
      state.receiver = new window.SpacesOpusWire.Receiver(play, showLevels);
    }
    ws.onopen = function () { state.retries = 0; say(""); };
    ws.onmessage = function (event) {
      if (typeof event.data === "string") return textMessage(event.data);
      if (state.receiver) return state.receiver.message(event.data);
      if (state.playback) state.playback.port.postMessage(event.data, [event.data]);
    };
    ws.onclose = function (event) {
      state.ws = null;
      if (event.code in NO_RETRY) {
        state.wanted = false;
        stopCapture();
        if (NO_RETRY[event.code]) { say(NO_RETRY[event.code]); undock(); }
        return;
      }
      if (!state.wanted) return;
      var delay = Math.min(2000, 250 * Math.pow(2, state.retries++));
      say("Reconnecting audio…");
      state.retryTimer = setTimeout(connect, delay);
    };
  }

  function disconnect() {
    state.wanted = false;
    clearTimeout(state.retryTimer);
    if (state.ws) state.ws.close(1000);
    state.ws = null;
    stopCapture();
  }

  function textMessage(text) {
    var data;
    try { data = JSON.parse(text); } catch (e) { return; }
    if (data && data.type === "title") return retitle(data.title);
    if (data && data.type === "levels") showLevels(data.levels);
  }

  // Levels by user id (as text in v1, from the binary header in v2).
  function showLevels(levels) {
    document.querySelectorAll("li.person[data-user-id]").forEach(function (item) {
      var v = levels[item.getAttribute("data-user-id")] || 0;
      item.classList.toggle("speaking", v > 0.15);
    });
    var mine = levels[state.me] || 0;
    document.querySelectorAll(".level-meter > span").forEach(function (bar) {
      bar.style.width = Math.round(mine * 100) + "%";
    });
  }

  // A rename, told on the audio socket: the docked player has no other way to hear of it. The
  // room page renames itself from its own pushed header (app.js).
  function retitle(title) {
    if (typeof title !== "string") return;
    state.title = title;
    renderDock();
  }

  // The microphone ---------------------------------------------------------------------------

  function startCapture() {
    if (state.capture || state.starting) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      micProblem("This browser cannot use a microphone here (it needs https or localhost).");
      return;
    }
    state.starting = true;
    var ctx = ensureContext();
    navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    }).then(function (stream) {
      return ctx.audioWorklet.addModule("/static/audio/capture-worklet.js").then(function () {
        state.micStream = stream;
        state.micSource = ctx.createMediaStreamSource(stream);
        state.capture = new AudioWorkletNode(ctx, "spaces-capture", { numberOfOutputs: 0 });
        state.capture.port.onmessage = function (event) {
          if (!state.ws || state.ws.readyState !== 1 || state.mic !== "on") return;
          if (state.codec === "pcm") return state.ws.send(event.data);
          if (!state.sender) state.sender = new window.SpacesOpusWire.Sender(sendOpen);
          state.sender.frame(new Int16Array(event.data));
        };
        state.micSource.connect(state.capture);
        say("");
      });
    }).catch(function (error) {
      var blocked = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      micProblem(blocked
        ? "Your microphone is blocked. Allow it for this site in the browser, then turn it on again."
        : "No microphone was found. Connect one, then turn it on again.");
    }).then(function () { state.starting = false; });
  }

  function sendOpen(message) {
    if (state.ws && state.ws.readyState === 1 && state.mic === "on") state.ws.send(message);
  }

  function stopCapture() {
    if (state.micSource) state.micSource.disconnect();
    if (state.capture) state.capture.port.onmessage = null;
    if (state.sender) state.sender.close();
    state.sender = null;
    if (state.micStream) state.micStream.getTracks().forEach(function (t) { t.stop(); });
    state.capture = state.micSource = state.micStream = null;
  }

  function micProblem(text) {
    say(text);
    setMic(false);
  }

  function setMic(on) {
    if (!state.spaceId) return;
    fetch("/spaces/" + state.spaceId + "/mic", {
      method: "POST",
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded" },
      body: "on=" + (on ? "1" : "0"),
      credentials: "same-origin",
    }).then(function (response) { return response.text(); }).then(function (html) {
      if (window.htmx && html) window.htmx.swap("body", html, { swapStyle: "none" });
      sync();
    });
  }

  // Following the page -----------------------------------------------------------------------

  function readRoom() {
    var room = document.getElementById("room-live");
    var controls = document.getElementById("my-controls");
    if (room && controls) {
      state.spaceId = room.getAttribute("data-space-id");
      state.audioAddress = room.getAttribute("data-audio-address");
      state.title = room.getAttribute("data-space-title") || state.title;
      state.role = controls.getAttribute("data-role") || "";
      state.mic = controls.getAttribute("data-mic") || "off";
      return true;
    }
    if (room && !controls) { // the Space ended or we were removed
      state.role = "";
      return true;
    }
    return false;
  }

  function sync() {
    var main = document.getElementById("content");
    // A guest listener (no account) has no data-me: their controls say they are one.
    state.me = (main && main.getAttribute("data-me")) || (document.querySelector("#my-controls[data-guest]") ? "guest" : null);
    if (!state.me) return signedOut();
    var onRoomPage = readRoom();
    if (onRoomPage) undock(); else if (state.wanted) dock();
    if (state.role && state.spaceId) {
      state.wanted = true;
      if (!state.ctx || state.ctx.state !== "running") offerResume();
      ensurePlayback().then(connect);
    } else if (onRoomPage && state.wanted) {
      disconnect();
    }
    var onStage = state.role === "host" || state.role === "speaker";
    if (onStage && state.mic === "on") startCapture(); else stopCapture();
    renderDock();
  }

  function offerResume() {
    if (state.ctx && state.ctx.state === "running") return;
    var box = document.getElementById("audio-status");
    if (!box || box.querySelector("button")) return;
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Play audio";
    button.addEventListener("click", function () { ensureContext(); ensurePlayback(); box.textContent = ""; });
    box.appendChild(button);
  }

  // The docked player ------------------------------------------------------------------------

  function dock() { document.body.classList.add("docked"); renderDock(); }
  function undock() { document.body.classList.remove("docked"); renderDock(); }

  function renderDock() {
    var bar = document.getElementById("docked-player");
    if (!bar) return;
    var show = state.wanted && document.body.classList.contains("docked");
    bar.hidden = !show;
    if (!show) return;
    var onStage = state.role === "host" || state.role === "speaker";
    var micLabel = state.mic === "on" ? "Turn off microphone" : "Turn on microphone";
    bar.querySelector(".title").textContent = state.title;
    bar.querySelector("a.back").setAttribute("href", "/spaces/" + state.spaceId);
    var mic = bar.querySelector("button.mic");
    mic.hidden = !onStage;
    mic.textContent = micLabel;
  }

  // Logging out leaves every Space (the server closes the sockets too): the microphone stops at
  // the click, and the signed-out page says which Space was left.
  function loggingOut() {
    if (!state.wanted) return;
    try { sessionStorage.setItem(LEFT_ON_LOGOUT, state.title); } catch (e) { /* private mode */ }
    disconnect();
    undock();
  }

  function signedOut() {
    if (state.wanted || state.ws) disconnect();
    state.spaceId = null;
    undock();
    var title = null;
    try { title = sessionStorage.getItem(LEFT_ON_LOGOUT); sessionStorage.removeItem(LEFT_ON_LOGOUT); } catch (e) { /* private mode */ }
    var flash = document.getElementById("flash");
    if (title !== null && flash) flash.textContent = "You logged out, so you left the Space \u201c" + title + "\u201d.";
  }

  function leave() {
    var id = state.spaceId;
    disconnect();
    undock();
    var path = state.me === "guest" ? "/guest/leave" : "/leave"; // a guest listener's own route
    fetch("/spaces/" + id + path, {
      method: "POST", headers: { "X-CSRFToken": csrf() }, credentials: "same-origin",
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-join]")) { ensureContext(); ensurePlayback(); }
    var bar = event.target.closest("#docked-player");
    if (!bar) return;
    if (event.target.closest("a.back")) {
      // Back to the room without a page load, so the audio keeps playing.
      event.preventDefault();
      var path = "/spaces/" + state.spaceId;
      window.htmx.ajax("GET", path, { target: "body", swap: "innerHTML" }).then(function () {
        history.pushState({}, "", path);
      });
      return;
    }
    if (event.target.closest("button.mic")) { state.mic = state.mic === "on" ? "off" : "on"; setMic(state.mic === "on"); renderDock(); }
    if (event.target.closest("button.leave")) leave();
  });

  // In the room, the controls' own Turn on/off microphone buttons post through htmx; a click is
  // also the moment the browser lets us ask for the microphone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.action && /\/mic$/.test(form.action)) ensureContext();
    if (form.action && /\/logout$/.test(form.action)) loggingOut();
  }, true);

  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:oobAfterSwap", function () { setTimeout(sync, 0); });
  document.addEventListener("DOMContentLoaded", sync);
  window.addEventListener("pagehide", function () { if (state.ws) state.ws.close(1000); });
})();
