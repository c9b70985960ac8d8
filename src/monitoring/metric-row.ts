/** One row of public.performance_metrics as the collector writes it (the names and tags: database/README.md, Monitoring). */
export interface MetricRow {
  metric: string;
  value: number;
  unit: "ms" | "bytes" | "count" | "percent" | "rows" | "usd";
  tags: Record<string, string | null>;
}
