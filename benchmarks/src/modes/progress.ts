import cliProgress from 'cli-progress';

export interface ProgressFigures {
  connected: number;
  sent: number;
  ranks: number;
  p99: number;
  lag: number;
  errors: number;
}

/** The one refreshing line shown while a run plays (only on a terminal). */
export class Progress {
  private bar: cliProgress.SingleBar | undefined;

  constructor(private readonly enabled: boolean) {}

  start(total: number, phase: string): void {
    if (!this.enabled) return;
    this.bar = new cliProgress.SingleBar(
      {
        format:
          '{phase} [{bar}] {value}/{total}s | clients {connected} | ratings {sent}/s | ranks {ranks}/s | p99 {p99} ms | lag {lag} | errors {errors}',
        hideCursor: true,
        barsize: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { phase, connected: 0, sent: 0, ranks: 0, p99: 0, lag: 0, errors: 0 });
  }

  update(t: number, figures: ProgressFigures): void {
    this.bar?.update(t, { ...figures });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
