// Reconnect delays: exponential with "equal jitter" (half fixed, half random), capped. The fixed half
// keeps a flapping link from hammering the adapter; the random half spreads many platforms apart.
using System;

namespace Nexus.Bridge
{
    public sealed class Backoff
    {
        readonly TimeSpan initial;
        readonly TimeSpan max;
        readonly double factor;
        readonly Random random;
        readonly object gate = new object();

        public Backoff(TimeSpan initial, TimeSpan max, double factor = 2.0, Random random = null)
        {
            if (initial <= TimeSpan.Zero || max < initial || factor < 1.0) throw new ArgumentException("need 0 < initial <= max and factor >= 1");
            this.initial = initial;
            this.max = max;
            this.factor = factor;
            this.random = random ?? new Random();
        }

        /// <summary>Failures since the last Reset.</summary>
        public int Attempt { get; private set; }

        /// <summary>The delay before the next attempt: in [d/2, d], d = min(max, initial * factor^attempt).</summary>
        public TimeSpan Next()
        {
            lock (gate)
            {
                double ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(factor, Math.Min(Attempt, 64)));
                Attempt++;
                return TimeSpan.FromMilliseconds(ceiling / 2 + random.NextDouble() * ceiling / 2);
            }
        }

        public void Reset()
        {
            lock (gate) Attempt = 0;
        }
    }
}
