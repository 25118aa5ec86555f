import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
);

interface Props {
  kind: 'bar' | 'line';
  labels: string[];
  values: number[];
  /** Read by screen readers (the canvas is an image); also the chart's only label. */
  label: string;
  testId?: string;
}

/** A Chart.js chart, updated in place when its data changes. */
export function SeriesChart({ kind, labels, values, label, testId }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    chart.current = new Chart(canvas.current!, {
      type: kind,
      data: {
        labels: [],
        datasets: [{ label, data: [], backgroundColor: '#1d4ed8', borderColor: '#1d4ed8' }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true } },
      },
    });
    return () => chart.current?.destroy();
  }, [kind, label]);
  useEffect(() => {
    const c = chart.current!;
    c.data.labels = labels;
    c.data.datasets[0].data = values;
    c.update();
  }, [labels, values]);
  const summary = values.length === 0 ? 'no data yet' : labels.map((l, i) => `${l}: ${values[i]}`).join(', ');
  return (
    <div class="chart">
      <canvas ref={canvas} role="img" aria-label={`${label}: ${summary}`} data-testid={testId} />
    </div>
  );
}
