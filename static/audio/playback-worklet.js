// Playback jitter buffer: 16 kHz frames in (Int16 in an ArrayBuffer from v1's PCM, or a
// Float32Array decoded from v2's Opus), the context's rate out.
// It starts once TARGET ms are buffered, plays silence on underrun (then refills), and drops the
// oldest audio when more than MAX ms pile up, so the delay never grows over a long Space.
const IN_RATE = 16000;
const TARGET = (80 * IN_RATE) / 1000;
const MAX = (200 * IN_RATE) / 1000;
const CAPACITY = IN_RATE * 2;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ring = new Float32Array(CAPACITY);
    this.read = 0; // fractional read position (in input samples, ever-growing)
    this.write = 0; // input samples written (ever-growing)
    this.playing = false;
    this.step = IN_RATE / sampleRate;
    this.underruns = 0;
    this.dropped = 0;
    this.frames = 0;
    this.port.onmessage = (event) => {
      const data = event.data;
      if (data instanceof Float32Array) this.push(data, 1);
      else this.push(new Int16Array(data), 1 / 32768);
    };
  }

  buffered() {
    return this.write - this.read;
  }

  push(samples, scale) {
    for (let i = 0; i < samples.length; i++) {
      this.ring[this.write % CAPACITY] = samples[i] * scale;
      this.write++;
    }
    this.frames++;
    if (this.buffered() > MAX) {
      const drop = this.buffered() - TARGET;
      this.read += drop;
      this.dropped += drop;
    }
    if (this.frames % 50 === 0) {
      this.port.postMessage({
        bufferedMs: (this.buffered() * 1000) / IN_RATE,
        underruns: this.underruns,
        droppedMs: (this.dropped * 1000) / IN_RATE,
      });
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.buffered() >= TARGET) this.playing = true;
    for (let i = 0; i < out.length; i++) {
      if (!this.playing || this.buffered() < 2) {
        out[i] = 0;
        if (this.playing) {
          this.playing = false;
          this.underruns++;
        }
        continue;
      }
      const base = Math.floor(this.read);
      const frac = this.read - base;
      const a = this.ring[base % CAPACITY];
      const b = this.ring[(base + 1) % CAPACITY];
      out[i] = a + (b - a) * frac;
      this.read += this.step;
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor("spaces-playback", PlaybackProcessor);
