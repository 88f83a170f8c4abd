// A platform for tests: PlatformBridge (the code the NinjaTrader AddOn and the Quantower plugin share) over
// an in-memory book instead of a trading platform, run against the Python adapter by
// tests/integration/nt8/test_csharp_platform.py. Market orders fill at once at the given price; limit
// orders rest and fill after --fill-delay-ms, connected or not (the fill is journaled either way and must
// reach the adapter through open_orders_query after a reconnect).
//
//   NX_NT8_PORT=... NX_NT8_AUTH_TOKEN=... [NX_NT8_ACCOUNTS=Sim101] TestHost.exe <price> <fill-delay-ms>
//
// The adapter's address, token and accounts come through BridgeSettings, as in the AddOn and the plugin.
// Prints "PLACED <coid>" per order really placed and the bridge's log lines; runs until killed.
using System;
using System.Collections.Generic;
using System.Threading;
using Nexus.Bridge;

namespace Nexus.Bridge.TestHost
{
    sealed class SimHost : PlatformBridge
    {
        static readonly HashSet<string> Instruments = new HashSet<string> { "NQ 03-25", "ES 03-25" };
        readonly string token;
        readonly string account;
        readonly double price;
        readonly int fillDelayMs;
        readonly object book = new object();
        readonly Dictionary<string, long> positions = new Dictionary<string, long>();
        readonly Dictionary<string, Timer> resting = new Dictionary<string, Timer>();
        int orders, executions;

        SimHost(BridgeClientOptions options, string token, string account, double price, int fillDelayMs) : base(options)
        {
            this.token = token;
            this.account = account;
            this.price = price;
            this.fillDelayMs = fillDelayMs;
        }

        public static int Main(string[] args)
        {
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: NX_NT8_PORT=.. NX_NT8_AUTH_TOKEN=.. TestHost.exe <price> <fill-delay-ms>");
                return 64;
            }
            BridgeSettings settings = BridgeSettings.Load(null, "Sim101");
            BridgeClientOptions options = settings.ClientOptions();
            options.Backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500));
            Say("settings: " + settings);
            var host = new SimHost(options, settings.AuthToken, settings.Accounts[0],
                                   double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[1]));
            var ticker = new Timer(_ => host.Tick(), null, 200, 200);
            host.Start();
            Thread.Sleep(Timeout.Infinite);
            GC.KeepAlive(ticker);
            return 0;
        }

        protected override string PlatformName { get { return Platforms.Nt8; } }
        protected override string PlatformVersion { get { return "8.1.4.1 (TestHost)"; } }
        protected override string AuthToken { get { return token; } }
        protected override IList<string> Accounts() { return new[] { account }; }
        protected override bool SupportsTimeInForce(string tif) { return tif != TimesInForce.Fok; }

        protected override Refusal Place(BridgeMessage submit)
        {
            string instrument = submit.GetString("instrument");
            if (!Instruments.Contains(instrument)) return new Refusal(ErrorCodes.UnknownInstrument, "no instrument " + instrument);
            string coid = submit.GetString("client_order_id");
            string platformId = "TH-" + Interlocked.Increment(ref orders);
            Say("PLACED " + coid);
            ReportOrder(coid, platformId, OrderStatuses.Pending, 0, null, null);
            ReportOrder(coid, platformId, OrderStatuses.Accepted, 0, null, null);
            if (submit.GetString("order_type") == OrderTypes.Market)
                Fill(submit, platformId, price);
            else
                lock (book) resting[coid] = new Timer(_ => Fill(submit, platformId, submit.GetDouble("limit_price")), null, fillDelayMs, Timeout.Infinite);
            return null;
        }

        protected override void Cancel(OrderRegistry.Entry entry)
        {
            Timer t;
            lock (book)
            {
                if (!resting.TryGetValue(entry.ClientOrderId, out t)) return;
                resting.Remove(entry.ClientOrderId);
            }
            t.Dispose();
            ReportOrder(entry.ClientOrderId, entry.PlatformOrderId, OrderStatuses.Cancelled, 0, null, "cancelled by request");
        }

        void Fill(BridgeMessage submit, string platformId, double fillPrice)
        {
            string coid = submit.GetString("client_order_id");
            string instrument = submit.GetString("instrument");
            long qty = submit.GetLong("quantity");
            lock (book)
            {
                resting.Remove(coid);
                long held;
                positions.TryGetValue(instrument, out held);
                positions[instrument] = held + (submit.GetString("side") == Sides.Buy ? qty : -qty);
            }
            ReportExecution("THX-" + Interlocked.Increment(ref executions), account, coid, platformId, instrument,
                            submit.GetString("side"), qty, fillPrice, 2.15 * qty, Clock.NowNs());
            ReportOrder(coid, platformId, OrderStatuses.Filled, qty, fillPrice, null);
            ReportPositions(account);
            Say("FILLED " + coid + (IsConnected ? "" : " (while disconnected)"));
        }

        protected override string Subscribe(string instrument)
        {
            return Instruments.Contains(instrument) ? null : "no instrument " + instrument;
        }

        protected override void Unsubscribe(string instrument) { }

        protected override IEnumerable<BridgeRecord> PositionsOf(string acct)
        {
            var list = new List<BridgeRecord>();
            lock (book)
                foreach (var p in positions)
                    if (p.Value != 0) list.Add(Messages.Position(p.Key, p.Value, price));
            return list;
        }

        protected override BridgeMessage AccountSnapshotOf(string acct)
        {
            return Messages.AccountSnapshot(acct, "USD", 100000.0, 0.0, 0.0, Clock.NowNs());
        }

        void Tick()
        {
            foreach (string instrument in Instruments)
                ReportTick(instrument, price, price, price, 10.0, 10.0, 1.0, Clock.NowNs());
        }

        protected override void Log(string line) { Say("log: " + line); }

        static void Say(string line)
        {
            lock (Instruments)
            {
                Console.WriteLine(line);
                Console.Out.Flush();
            }
        }
    }
}
