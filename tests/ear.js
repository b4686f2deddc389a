// Test-only init script: records everything the page sends to its speakers, so a test can prove
// what a listener heard. Every connect() to an AudioDestinationNode is mirrored into a tap.
(() => {
  window.__heard = [];
  window.__heardRate = 0;
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (target, ...rest) {
    const result = connect.call(this, target, ...rest);
    if (target instanceof AudioDestinationNode) {
      const ctx = target.context;
      if (!ctx.__tap) {
        const tap = ctx.createScriptProcessor(4096, 1, 1);
        tap.onaudioprocess = (event) => {
          window.__heardRate = ctx.sampleRate;
          window.__heard.push(Array.from(event.inputBuffer.getChannelData(0)));
        };
        connect.call(tap, ctx.destination);
        ctx.__tap = tap;
      }
      connect.call(this, ctx.__tap);
    }
    return result;
  };
})();
