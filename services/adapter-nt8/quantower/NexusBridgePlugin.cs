// NEXUS bridge for Quantower: runs as a Quantower strategy (Strategy Runner), works at account level and
// connects out to the NEXUS adapter (python -m nexus_nt8 with NX_VENUE=quantower) over the bridge
// protocol. The platform-independent part is BridgeCore, the same source files the NinjaTrader AddOn
// compiles (NexusBridge.Quantower.csproj links them); this file is the Quantower part only:
//   order_submit  -> Core.Instance.PlaceOrder(PlaceOrderRequestParameters { ..., Comment = client order id })
//   order_cancel  -> Core.Instance.CancelOrder(order)
//   Core.Instance.OrderAdded / Order.Updated / OrderRemoved -> order_update
//   Core.Instance.TradeAdded                               -> execution_update (Trade.Id is the execution id)
//   Core.Instance.PositionAdded / PositionRemoved          -> position_snapshot
//   md_subscribe  -> Symbol.NewQuote / Symbol.NewLast     -> tick
// Written against the Quantower API (TradingPlatform.BusinessLayer); see docs/quantower.md for what could
// not be compiled or verified here.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TradingPlatform.BusinessLayer;
using NB = Nexus.Bridge;

namespace NexusBridge.Quantower
{
    public sealed class NexusBridgeStrategy : Strategy
    {
        [InputParameter("Adapter host (empty: settings file / environment)", 0)]
        public string Host = "";

        [InputParameter("Adapter port (0: settings file / environment)", 1)]
        public int Port = 0;

        [InputParameter("Accounts, comma-separated (empty: settings file / environment)", 2)]
        public string AccountNames = "";

        QuantowerBridge bridge;

        public NexusBridgeStrategy()
        {
            Name = "NEXUS bridge";
            Description = "Connects Quantower accounts to the NEXUS mesh adapter (bridge protocol v1).";
        }

        protected override void OnRun()
        {
            string file = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.MyDocuments), "nexus-bridge.txt");
            try
            {
                NB.BridgeSettings settings = NB.BridgeSettings.Load(file, null);
                if (Host.Length > 0) settings.Host = Host;
                if (Port > 0) settings.Port = Port;
                if (AccountNames.Length > 0)
                    settings.Accounts = AccountNames.Split(',').Select(a => a.Trim()).Where(a => a.Length > 0).ToList();
                if (settings.Accounts.Count == 0) throw new ArgumentException("no account configured (NX_NT8_ACCOUNTS)");
                bridge = new QuantowerBridge(settings, line => Log(line));
                bridge.Start();
                Log("NEXUS bridge started: " + settings);
            }
            catch (Exception ex)
            {
                Log("NEXUS bridge not started: " + ex.Message, StrategyLoggingLevel.Error);
            }
        }

        protected override void OnStop()
        {
            if (bridge != null) bridge.Stop();
            bridge = null;
        }
    }

    sealed class QuantowerBridge : NB.PlatformBridge
    {
        readonly NB.BridgeSettings settings;
        readonly Action<string> log;
        readonly Dictionary<string, Symbol> subscribed = new Dictionary<string, Symbol>(StringComparer.Ordinal);

        public QuantowerBridge(NB.BridgeSettings settings, Action<string> log) : base(settings.ClientOptions())
        {
            this.settings = settings;
            this.log = log;
        }

        public override void Start()
        {
            Core.Instance.OrderAdded += OnOrderAdded;
            Core.Instance.OrderRemoved += OnOrderRemoved;
            Core.Instance.TradeAdded += OnTradeAdded;
            Core.Instance.PositionAdded += OnPositionChanged;
            Core.Instance.PositionRemoved += OnPositionChanged;
            base.Start();
        }

        public override void Stop()
        {
            base.Stop();
            Core.Instance.OrderAdded -= OnOrderAdded;
            Core.Instance.OrderRemoved -= OnOrderRemoved;
            Core.Instance.TradeAdded -= OnTradeAdded;
            Core.Instance.PositionAdded -= OnPositionChanged;
            Core.Instance.PositionRemoved -= OnPositionChanged;
        }

        protected override string PlatformName { get { return NB.Platforms.Quantower; } }
        protected override string PlatformVersion { get { return typeof(Core).Assembly.GetName().Version.ToString(); } }
        protected override string AuthToken { get { return settings.AuthToken; } }
        protected override IList<string> Accounts() { return settings.Accounts; }
        protected override bool SupportsTimeInForce(string tif) { return true; } // Day, GTC, IOC, FOK all exist

        static Account FindAccount(string name) { return Core.Instance.Accounts.FirstOrDefault(a => a.Name == name); }
        static Symbol FindSymbol(string name) { return Core.Instance.Symbols.FirstOrDefault(s => s.Name == name); }

        protected override NB.Refusal Place(NB.BridgeMessage m)
        {
            Account account = FindAccount(m.GetString("account"));
            if (account == null) return new NB.Refusal(NB.ErrorCodes.UnknownAccount, "no connected account " + m.GetString("account"));
            Symbol symbol = FindSymbol(m.GetString("instrument"));
            if (symbol == null) return new NB.Refusal(NB.ErrorCodes.UnknownInstrument, "Quantower has no symbol " + m.GetString("instrument"));
            string type = m.GetString("order_type");
            string tif = m.GetString("time_in_force");
            var request = new PlaceOrderRequestParameters
            {
                Account = account,
                Symbol = symbol,
                Side = m.GetString("side") == NB.Sides.Buy ? Side.Buy : Side.Sell,
                Quantity = m.GetLong("quantity"),
                OrderTypeId = type == NB.OrderTypes.Limit ? OrderType.Limit : type == NB.OrderTypes.Stop ? OrderType.Stop : OrderType.Market,
                Price = m.GetNullableDouble("limit_price") ?? 0,
                TriggerPrice = m.GetNullableDouble("stop_price") ?? 0,
                TimeInForce = tif == NB.TimesInForce.Gtc ? TimeInForce.GTC : tif == NB.TimesInForce.Ioc ? TimeInForce.IOC
                            : tif == NB.TimesInForce.Fok ? TimeInForce.FOK : TimeInForce.Day,
                Comment = m.GetString("client_order_id"),
            };
            TradingOperationResult result = Core.Instance.PlaceOrder(request);
            if (result == null || result.Status == TradingOperationResultStatus.Failure)
                return new NB.Refusal(NB.ErrorCodes.InvalidOrder, "Quantower refused the order: " + (result == null ? "no result" : result.Message));
            ReportOrder(request.Comment, result.OrderId, NB.OrderStatuses.Pending, 0, null, null);
            return null; // its states arrive through OrderAdded / Updated / OrderRemoved
        }

        protected override void Cancel(NB.OrderRegistry.Entry entry)
        {
            Order order = Core.Instance.Orders.FirstOrDefault(o => o.Comment == entry.ClientOrderId);
            if (order == null) throw new InvalidOperationException("no working Quantower order " + entry.ClientOrderId);
            TradingOperationResult result = Core.Instance.CancelOrder(order);
            if (result != null && result.Status == TradingOperationResultStatus.Failure)
                throw new InvalidOperationException(result.Message);
        }

        void OnOrderAdded(Order order)
        {
            if (Registry.Find(order.Comment ?? "") == null) return; // not placed through the bridge
            order.Updated += _ => Report(order);
            Report(order);
        }

        void OnOrderRemoved(Order order) { Report(order); }

        void Report(Order o)
        {
            string status = Status(o);
            if (status == null) return;
            ReportOrder(o.Comment, o.Id, status, (long)o.FilledQuantity, o.FilledQuantity > 0 ? (double?)o.AverageFillPrice : null,
                        status == NB.OrderStatuses.Rejected ? o.OriginalStatus : null);
        }

        void OnTradeAdded(Trade t)
        {
            NB.OrderRegistry.Entry entry = Registry.FindByPlatformOrderId(t.OrderId ?? "");
            string coid = entry != null ? entry.ClientOrderId : (t.Comment ?? "");
            ReportExecution(t.Id, t.Account.Name, coid, t.OrderId, t.Symbol.Name, t.Side == Side.Buy ? NB.Sides.Buy : NB.Sides.Sell,
                            (long)Math.Round(t.Quantity), t.Price, t.Fee != null ? Math.Abs(t.Fee.Value) : 0.0, NB.Clock.ToNs(t.DateTime));
        }

        void OnPositionChanged(Position p)
        {
            if (p.Account != null && settings.Accounts.Contains(p.Account.Name)) ReportPositions(p.Account.Name);
        }

        protected override IEnumerable<NB.BridgeRecord> PositionsOf(string account)
        {
            return Core.Instance.Positions.Where(p => p.Account != null && p.Account.Name == account && p.Quantity != 0)
                .Select(p => NB.Messages.Position(p.Symbol.Name, (long)Math.Round(p.Side == Side.Buy ? p.Quantity : -p.Quantity), p.OpenPrice))
                .ToList();
        }

        protected override NB.BridgeMessage AccountSnapshotOf(string account)
        {
            Account a = FindAccount(account);
            if (a == null) return null;
            string currency = a.AccountCurrency != null ? a.AccountCurrency.Name : "USD";
            return NB.Messages.AccountSnapshot(account, currency, a.Balance, 0.0, 0.0, NB.Clock.NowNs());
        }

        // ---- market data ----------------------------------------------------------------------------

        protected override string Subscribe(string name)
        {
            Symbol symbol = FindSymbol(name);
            if (symbol == null) return "Quantower has no symbol " + name;
            lock (subscribed) subscribed[name] = symbol;
            symbol.NewQuote += OnQuote;
            symbol.NewLast += OnLast;
            return null;
        }

        protected override void Unsubscribe(string name)
        {
            Symbol symbol;
            lock (subscribed)
            {
                if (!subscribed.TryGetValue(name, out symbol)) return;
                subscribed.Remove(name);
            }
            symbol.NewQuote -= OnQuote;
            symbol.NewLast -= OnLast;
        }

        void OnQuote(Symbol s, Quote q)
        {
            ReportTick(s.Name, q.Bid, q.Ask, s.Last, q.BidSize, q.AskSize, s.LastSize, NB.Clock.ToNs(q.Time));
        }

        void OnLast(Symbol s, Last l)
        {
            ReportTick(s.Name, s.Bid, s.Ask, l.Price, s.BidSize, s.AskSize, l.Size, NB.Clock.ToNs(l.Time));
        }

        // Quantower OrderStatus -> bridge status; null: not sent
        static string Status(Order o)
        {
            switch (o.Status)
            {
                case OrderStatus.Opened:
                case OrderStatus.Inactive: return o.FilledQuantity > 0 ? NB.OrderStatuses.PartiallyFilled : NB.OrderStatuses.Accepted;
                case OrderStatus.PartiallyFilled: return NB.OrderStatuses.PartiallyFilled;
                case OrderStatus.Filled: return NB.OrderStatuses.Filled;
                case OrderStatus.Cancelled: return NB.OrderStatuses.Cancelled;
                case OrderStatus.Refused: return NB.OrderStatuses.Rejected;
                default: return null; // Unspecified
            }
        }

        protected override void Log(string line) { log(line); }
    }
}
