// The room page's live socket on an edge node (README, "Edge nodes"). With edges, the room page
// names its live address (`data-live-address`); before each connection, the first and every
// reconnection of the htmx ws extension, this asks the core where to go: a fresh grant for an
// edge (listeners), or nowhere ([]: the core's own socket, for speakers, the host, or someone
// the core must tell where they stand). Each attempt takes the next edge in the core's order, so
// a dead edge is passed over; a listener made speaker is closed with 1012 and comes back here.
(function () {
  "use strict";
  if (!window.htmx || !htmx.createWebSocket) return;
  var plain = htmx.createWebSocket;
  var LIVE = /\/spaces\/\d+\/live$/;
  var attempts = 0;

  function socketURL(url) {
    if (url.indexOf("/") !== 0) return url;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + url;
  }

  // Looks like a WebSocket to the ws extension while the address is asked for, then forwards.
  function EdgeSocket(coreURL, address) {
    var self = this;
    self.CONNECTING = 0; self.OPEN = 1; self.CLOSING = 2; self.CLOSED = 3;
    self.readyState = 0;
    self.binaryType = htmx.config.wsBinaryType || "blob";
    self.socket = null;
    self.cancelled = false;
    self.listeners = [];
    fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { urls: [] }; })
      .catch(function () { return { urls: [] }; })
      .then(function (answer) {
        if (self.cancelled) return;
        var urls = (answer && answer.urls) || [];
        var target = urls.length ? socketURL(urls[attempts % urls.length]) : coreURL;
        attempts += 1;
        self.attach(plain(target));
      });
  }
  EdgeSocket.prototype.attach = function (socket) {
    var self = this;
    self.socket = socket;
    socket.onopen = function (event) { self.readyState = 1; if (self.onopen) self.onopen(event); };
    socket.onclose = function (event) { self.readyState = 3; if (self.onclose) self.onclose(event); };
    socket.onerror = function (event) { if (self.onerror) self.onerror(event); };
    self.listeners.forEach(function (pair) { socket.addEventListener(pair[0], pair[1]); });
  };
  EdgeSocket.prototype.addEventListener = function (type, listener) {
    this.listeners.push([type, listener]);
    if (this.socket) this.socket.addEventListener(type, listener);
  };
  EdgeSocket.prototype.send = function (data) { if (this.socket) this.socket.send(data); };
  EdgeSocket.prototype.close = function (code, reason) {
    this.cancelled = true;
    if (this.socket) this.socket.close(code, reason);
    else this.readyState = 3;
  };

  htmx.createWebSocket = function (url) {
    var room = document.getElementById("room-live");
    var address = room && room.getAttribute("data-live-address");
    if (!address || !LIVE.test(url)) return plain(url);
    return new EdgeSocket(url, address);
  };
})();
