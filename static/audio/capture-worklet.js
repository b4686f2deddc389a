// Microphone capture: downmix to mono, resample from the device's rate to 16 kHz inside the
// worklet, and post 20 ms frames (320 samples, Int16) to the main thread.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000; // input samples per output sample
    this.acc = 0; // sum of input samples in the current output step
    this.count = 0; // how many input samples are in acc
    this.pos = 0; // fractional position within the step
    this.frame = new Int16Array(320);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channels = input.length;
    const n = input[0].length;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < channels; c++) s += input[c][i];
      this.acc += s / channels;
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        // Box filter over the step: a cheap low-pass before decimation.
        this.pos -= this.step;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.acc = 0;
        this.count = 0;
        this.frame[this.filled++] = v < 0 ? v * 32768 : v * 32767;
        if (this.filled === 320) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new Int16Array(320);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("spaces-capture", CaptureProcessor);
