// Protocol v2 of the audio socket (docs/audio-protocol.md) in the browser: Opus through WebCodecs
// (AudioEncoder/AudioDecoder), with the 16-byte header on every message. WebCodecs exists only
// in a secure context (https, localhost, 127.0.0.1) and not in every browser: `supported()` says
// whether to ask the server for v2; without it room-audio.js stays on v1 (bare PCM).
(function () {
  "use strict";

  var VERSION = 2, KIND_AUDIO = 1, FLAG_LEVELS = 1, HEADER = 16;
  var RATE = 16000, FRAME = 320;
  var ENCODER = {
    codec: "opus", sampleRate: RATE, numberOfChannels: 1, bitrate: 24000,
    opus: { frameDuration: 20000, application: "voip" },
  };
  var DECODER = { codec: "opus", sampleRate: RATE, numberOfChannels: 1 };

  var checked = null;
  function supported() {
    if (checked) return checked;
    if (!("AudioEncoder" in window) || !("AudioDecoder" in window)) {
      checked = Promise.resolve(false);
    } else {
      checked = Promise.all([
        AudioEncoder.isConfigSupported(ENCODER), AudioDecoder.isConfigSupported(DECODER),
      ]).then(function (answers) {
        return answers[0].supported === true && answers[1].supported === true;
      }, function () { return false; });
    }
    return checked;
  }

  function clockMs() { return Date.now() % 4294967296; }

  // One message: frames (Uint8Array each), seq, capture time; no levels (clients send none).
  function pack(frames, seq, captureMs) {
    var size = HEADER;
    frames.forEach(function (f) { size += 2 + f.length; });
    var bytes = new Uint8Array(size);
    var view = new DataView(bytes.buffer);
    view.setUint8(0, VERSION); view.setUint8(1, KIND_AUDIO); view.setUint8(2, frames.length);
    view.setUint8(3, 0);
    view.setUint32(4, seq >>> 0); view.setUint32(8, captureMs >>> 0); view.setUint32(12, 0);
    var at = HEADER;
    frames.forEach(function (f) { view.setUint16(at, f.length); bytes.set(f, at + 2); at += 2 + f.length; });
    return bytes.buffer;
  }

  // {seq, captureMs, mixMs, frames: [Uint8Array], levels: {"<user id>": 0..1} or null}, or null.
  function unpack(buffer) {
    if (buffer.byteLength < HEADER) return null;
    var view = new DataView(buffer);
    if (view.getUint8(0) !== VERSION || view.getUint8(1) !== KIND_AUDIO) return null;
    var count = view.getUint8(2), flags = view.getUint8(3);
    var message = {
      seq: view.getUint32(4), captureMs: view.getUint32(8), mixMs: view.getUint32(12),
      frames: [], levels: null,
    };
    var at = HEADER;
    for (var i = 0; i < count; i++) {
      if (at + 2 > buffer.byteLength) return null;
      var n = view.getUint16(at);
      if (at + 2 + n > buffer.byteLength) return null;
      message.frames.push(new Uint8Array(buffer, at + 2, n));
      at += 2 + n;
    }
    if (flags & FLAG_LEVELS) {
      var m = view.getUint8(at);
      at += 1;
      message.levels = {};
      for (var k = 0; k < m; k++) {
        message.levels[String(view.getUint32(at))] = view.getUint8(at + 4) / 255;
        at += 5;
      }
    }
    return message;
  }

  // Microphone frames (Int16Array of 320 at 16 kHz) in; `send(ArrayBuffer)` for each message.
  function Sender(send) {
    var seq = 0;
    var captured = [];
    this.encoder = new AudioEncoder({
      output: function (chunk) {
        var data = new Uint8Array(chunk.byteLength);
        chunk.copyTo(data);
        seq = (seq + 1) >>> 0;
        send(pack([data], seq, captured.length ? captured.shift() : clockMs()));
      },
      error: function () { /* the next configure starts afresh */ },
    });
    this.encoder.configure(ENCODER);
    this.timestamp = 0;
    this.captured = captured;
  }
  Sender.prototype.frame = function (int16) {
    if (this.encoder.state !== "configured") return;
    this.captured.push(clockMs());
    if (this.captured.length > 10) this.captured.shift();
    this.encoder.encode(new AudioData({
      format: "s16", sampleRate: RATE, numberOfFrames: int16.length, numberOfChannels: 1,
      timestamp: this.timestamp, data: int16,
    }));
    this.timestamp += (int16.length * 1e6) / RATE;
  };
  Sender.prototype.close = function () {
    if (this.encoder.state !== "closed") this.encoder.close();
  };

  // v2 messages in; `play(Float32Array of 16 kHz samples)` for each decoded frame. Chromium's
  // decoder hands back 48 kHz whatever it is asked: averaged down by three (Opus coded the voice
  // at 16 kHz, so nothing above 8 kHz is there to alias).
  function Receiver(play, onLevels) {
    this.onLevels = onLevels;
    this.timestamp = 0;
    this.decoder = new AudioDecoder({
      output: function (data) {
        var n = data.numberOfFrames, rate = data.sampleRate;
        var samples = new Float32Array(n);
        data.copyTo(samples, { planeIndex: 0, format: "f32-planar" });
        data.close();
        var step = Math.max(1, Math.round(rate / RATE));
        var out = new Float32Array(Math.floor(n / step));
        for (var i = 0; i < out.length; i++) {
          var sum = 0;
          for (var k = 0; k < step; k++) sum += samples[i * step + k];
          out[i] = sum / step;
        }
        play(out);
      },
      error: function () { /* a broken packet: the next ones play on */ },
    });
    this.decoder.configure(DECODER);
  }
  Receiver.prototype.message = function (buffer) {
    var message = unpack(buffer);
    if (!message) return;
    if (message.levels && this.onLevels) this.onLevels(message.levels);
    if (this.decoder.state !== "configured") return;
    var self = this;
    message.frames.forEach(function (packet) {
      self.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: self.timestamp, data: packet }));
      self.timestamp += (FRAME * 1e6) / RATE;
    });
  };
  Receiver.prototype.close = function () {
    if (this.decoder.state !== "closed") this.decoder.close();
  };

  window.SpacesOpusWire = {
    supported: supported, pack: pack, unpack: unpack, Sender: Sender, Receiver: Receiver,
    QUERY: "?v=2&codec=opus",
  };
})();
