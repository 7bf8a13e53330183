using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace MlNetBert.Serving;

/// <summary>
/// Serves this app's <see cref="System.Diagnostics.Metrics"/> instruments in Prometheus text at <c>GET /metrics</c>:
/// the server's own (<see cref="ServerMetrics"/>), ASP.NET Core's and Kestrel's (request durations, connections),
/// the runtime's (<c>System.Runtime</c>: GC, JIT, thread pool), and prometheus-net's process series
/// (<c>process_cpu_seconds_total</c>, <c>process_working_set_bytes</c>, ...).
/// </summary>
/// <remarks>
/// prometheus-net rather than OpenTelemetry's exporter: prometheus-net.AspNetCore 8.2.1 is a stable release, while
/// OpenTelemetry.Exporter.Prometheus.AspNetCore is served only as a beta (1.20.1-beta.1), and a server people deploy
/// should not rest on a pre-release. The cost: prometheus-net's meter adapter writes .NET counters as Prometheus
/// gauges (a .NET counter may be re-created and restart from zero), so <c># TYPE</c> says gauge for the
/// <c>_total</c> series; <c>rate()</c> and <c>increase()</c> work on them all the same.
/// <para>
/// Each app gets a registry of its own instead of prometheus-net's process-wide default, and listens only to
/// instruments made by its own <see cref="IMeterFactory"/> (plus the process-wide runtime meter), so two servers
/// in one process (tests, <c>bench serve</c>) do not report each other's requests.
/// </para>
/// </remarks>
internal sealed class PrometheusExport : IDisposable
{
    private readonly IDisposable _adapter;

    public PrometheusExport(IMeterFactory meters)
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            // Without this the adapter writes into the default registry and ignores Registry.
            MetricFactory = Metrics.WithCustomRegistry(Registry),
            InstrumentFilterPredicate = instrument => instrument.Meter.Scope == meters || instrument.Meter.Name == "System.Runtime",
            ResolveHistogramBuckets = Buckets,
            // The adapter drops a series not updated for this long (to bound memory when tags are unbounded). Ours are
            // bounded (route templates, error codes, model names), and a counter that vanished would restart from
            // zero, so keep them as long as the adapter allows.
            MetricsExpireAfter = TimeSpan.FromDays(1),
        });
    }

    /// <summary>The registry <c>GET /metrics</c> serializes.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Maps <c>GET /metrics</c>.</summary>
    public IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, string pattern) =>
        endpoints.MapMetrics(settings => settings.Registry = Registry, pattern)
            .WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));

    public void Dispose() => _adapter.Dispose();

    // The instrument's own advice where it gives one (ours, and ASP.NET Core's request durations); otherwise
    // prometheus-net's default exponential buckets.
    private static double[] Buckets(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { } bounds } => [.. bounds],
        Histogram<int> { Advice.HistogramBucketBoundaries: { } bounds } => [.. bounds.Select(b => (double)b)],
        Histogram<long> { Advice.HistogramBucketBoundaries: { } bounds } => [.. bounds.Select(b => (double)b)],
        _ => MeterAdapterOptions.DefaultHistogramBuckets,
    };
}
