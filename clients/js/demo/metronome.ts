// An audible metronome: a short click through Web Audio at the given tempo, scheduled ahead on
// the audio clock so it keeps time while the page is busy.

export class Metronome {
  private context?: AudioContext;
  private timer?: ReturnType<typeof setInterval>;
  private next = 0;
  /** Clicks scheduled since the last start. */
  clicks = 0;

  constructor(private readonly onClick: (clicks: number) => void = () => {}) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(bpm: number) {
    this.stop();
    this.context ??= new AudioContext();
    void this.context.resume();
    const beat = 60 / bpm;
    this.clicks = 0;
    this.next = this.context.currentTime + 0.05;
    const schedule = () => {
      const context = this.context!;
      while (this.next < context.currentTime + 0.1) {
        this.click(context, this.next, this.clicks % 4 === 0);
        this.next += beat;
        this.clicks += 1;
        this.onClick(this.clicks);
      }
    };
    schedule();
    this.timer = setInterval(schedule, 25);
  }

  stop() {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private click(context: AudioContext, at: number, accent: boolean) {
    const tone = context.createOscillator();
    const level = context.createGain();
    tone.frequency.value = accent ? 1500 : 1000;
    level.gain.setValueAtTime(0.6, at);
    level.gain.exponentialRampToValueAtTime(0.001, at + 0.04);
    tone.connect(level).connect(context.destination);
    tone.start(at);
    tone.stop(at + 0.05);
  }
}
