// NEXUS bridge for NinjaTrader 8: an AddOn (not a strategy) that works at account level and connects
// out to the NEXUS adapter (services/adapter-nt8, python -m nexus_nt8) over the bridge protocol.
//
// Everything platform-independent -- framing, handshake, heartbeats, reconnect, idempotent submits, the
// execution journal, answering open_orders_query -- is BridgeCore (services/adapter-nt8/csharp/BridgeCore,
// compiled into the same NinjaScript assembly, see docs/nt8.md). This file is the NinjaTrader part only:
//   order_submit      -> Account.CreateOrder(..., name: our client order id, ...) + Account.Submit
//   order_cancel      -> Account.Cancel
//   Account.OrderUpdate / ExecutionUpdate / PositionUpdate -> order_update / execution_update / position_snapshot
//   md_subscribe      -> Instrument.GetInstrument("NQ 03-25").MarketData.Update -> tick
// Settings (adapter address, token, accounts): BridgeSettings, from "Documents\NinjaTrader 8\nexus-bridge.txt"
// and the environment (NX_NT8_*). Written against the NinjaTrader 8 help guide; see docs/nt8.md for what
// could not be compiled or verified here (no NinjaTrader assemblies outside Windows).
#region Using declarations
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NinjaTrader.Cbi;
using NinjaTrader.Data;
using NinjaTrader.NinjaScript;
using NB = Nexus.Bridge;
#endregion

// This namespace holds Add ons in this folder and is required. Do not change it.
namespace NinjaTrader.NinjaScript.AddOns
{
    public class NexusBridgeAddOn : AddOnBase
    {
        NinjaTraderBridge bridge;

        protected override void OnStateChange()
        {
            if (State == State.SetDefaults)
            {
                Name = "NexusBridge";
                Description = "Connects NinjaTrader accounts to the NEXUS mesh adapter (bridge protocol v1).";
            }
            else if (State == State.Active)
            {
                string folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.MyDocuments), "NinjaTrader 8");
                try
                {
                    NB.BridgeSettings settings = NB.BridgeSettings.Load(Path.Combine(folder, "nexus-bridge.txt"), "Sim101");
                    bridge = new NinjaTraderBridge(settings);
                    bridge.Start();
                    Output("NEXUS bridge started: " + settings);
                }
                catch (Exception ex)
                {
                    Output("NEXUS bridge not started: " + ex.Message);
                }
            }
            else if (State == State.Terminated)
            {
                if (bridge != null) bridge.Stop();
                bridge = null;
            }
        }

        internal static void Output(string line)
        {
            NinjaTrader.Code.Output.Process("[NexusBridge] " + line, PrintTo.OutputTab1);
        }
    }

    sealed class NinjaTraderBridge : NB.PlatformBridge
    {
        readonly NB.BridgeSettings settings;
        readonly Dictionary<string, Account> accounts = new Dictionary<string, Account>(StringComparer.Ordinal);
        readonly Dictionary<string, Order> orders = new Dictionary<string, Order>(StringComparer.Ordinal); // by client order id
        readonly Dictionary<string, Instrument> subscribed = new Dictionary<string, Instrument>(StringComparer.Ordinal);
        readonly Dictionary<string, double?[]> quotes = new Dictionary<string, double?[]>(StringComparer.Ordinal);

        public NinjaTraderBridge(NB.BridgeSettings settings) : base(settings.ClientOptions()) { this.settings = settings; }

        public override void Start()
        {
            lock (Account.All)
                foreach (string name in settings.Accounts)
                {
                    Account a = Account.All.FirstOrDefault(x => x.Name == name);
                    if (a == null) { Log("no account named " + name + "; it will be refused"); continue; }
                    accounts[name] = a;
                    a.OrderUpdate += OnOrderUpdate;
                    a.ExecutionUpdate += OnExecutionUpdate;
                    a.PositionUpdate += OnPositionUpdate;
                }
            base.Start();
        }

        public override void Stop()
        {
            base.Stop();
            foreach (Account a in accounts.Values)
            {
                a.OrderUpdate -= OnOrderUpdate;
                a.ExecutionUpdate -= OnExecutionUpdate;
                a.PositionUpdate -= OnPositionUpdate;
            }
            accounts.Clear();
        }

        protected override string PlatformName { get { return NB.Platforms.Nt8; } }
        protected override string PlatformVersion { get { return typeof(Account).Assembly.GetName().Version.ToString(); } }
        protected override string AuthToken { get { return settings.AuthToken; } }
        protected override IList<string> Accounts() { return settings.Accounts; }
        // NinjaTrader's TimeInForce has Day, Gtc, Gtd, Ioc, Opg: no fill-or-kill
        protected override bool SupportsTimeInForce(string tif) { return tif != NB.TimesInForce.Fok; }

        protected override NB.Refusal Place(NB.BridgeMessage m)
        {
            Account account;
            if (!accounts.TryGetValue(m.GetString("account"), out account))
                return new NB.Refusal(NB.ErrorCodes.UnknownAccount, "account " + m.GetString("account") + " is not connected here");
            if (account.ConnectionStatus != ConnectionStatus.Connected)
                return new NB.Refusal(NB.ErrorCodes.PlatformDisconnected, "account " + account.Name + " is " + account.ConnectionStatus);
            Instrument instrument = Instrument.GetInstrument(m.GetString("instrument"));
            if (instrument == null)
                return new NB.Refusal(NB.ErrorCodes.UnknownInstrument, "NinjaTrader has no instrument " + m.GetString("instrument"));
            string coid = m.GetString("client_order_id");
            OrderType type = m.GetString("order_type") == NB.OrderTypes.Limit ? OrderType.Limit
                           : m.GetString("order_type") == NB.OrderTypes.Stop ? OrderType.StopMarket : OrderType.Market;
            TimeInForce tif = m.GetString("time_in_force") == NB.TimesInForce.Gtc ? TimeInForce.Gtc
                            : m.GetString("time_in_force") == NB.TimesInForce.Ioc ? TimeInForce.Ioc : TimeInForce.Day;
            Order order = account.CreateOrder(instrument, m.GetString("side") == NB.Sides.Buy ? OrderAction.Buy : OrderAction.Sell,
                                              type, OrderEntry.Automated, tif, (int)m.GetLong("quantity"),
                                              m.GetNullableDouble("limit_price") ?? 0, m.GetNullableDouble("stop_price") ?? 0,
                                              string.Empty, coid, NinjaTrader.Core.Globals.MaxDate, null);
            if (order == null) return new NB.Refusal(NB.ErrorCodes.InvalidOrder, "Account.CreateOrder returned no order");
            lock (orders) orders[coid] = order;
            account.Submit(new[] { order });
            return null; // its states arrive through Account.OrderUpdate
        }

        protected override void Cancel(NB.OrderRegistry.Entry entry)
        {
            Order order;
            lock (orders) orders.TryGetValue(entry.ClientOrderId, out order);
            if (order == null) throw new InvalidOperationException("no NinjaTrader order named " + entry.ClientOrderId);
            order.Account.Cancel(new[] { order });
        }

        void OnOrderUpdate(object sender, OrderEventArgs e)
        {
            Order o = e.Order;
            if (o == null) return;
            string status = Status(e.OrderState, e.Filled);
            if (status == null) { Log("order " + o.Name + " in state " + e.OrderState + ": not reported"); return; }
            string reason = e.OrderState == OrderState.Rejected ? (string.IsNullOrEmpty(e.Comment) ? e.Error.ToString() : e.Comment) : null;
            ReportOrder(o.Name, string.IsNullOrEmpty(e.OrderId) ? o.OrderId : e.OrderId, status, e.Filled,
                        e.Filled > 0 ? (double?)e.AverageFillPrice : null, reason);
        }

        void OnExecutionUpdate(object sender, ExecutionEventArgs e)
        {
            Execution x = e.Execution;
            if (x == null) return;
            if (e.Operation == Operation.Remove) { Log("execution " + e.ExecutionId + " removed by NinjaTrader; not reported"); return; }
            ReportExecution(e.ExecutionId, x.Account.Name, x.Order != null ? x.Order.Name : "", e.OrderId, x.Instrument.FullName,
                            e.MarketPosition == MarketPosition.Long ? NB.Sides.Buy : NB.Sides.Sell, e.Quantity, e.Price,
                            x.Commission, NB.Clock.ToNs(e.Time));
        }

        void OnPositionUpdate(object sender, PositionEventArgs e)
        {
            Position p = e.Position;
            if (p != null) ReportPositions(p.Account.Name);
        }

        protected override IEnumerable<NB.BridgeRecord> PositionsOf(string account)
        {
            var list = new List<NB.BridgeRecord>();
            Account a;
            if (!accounts.TryGetValue(account, out a)) return list;
            lock (a.Positions)
                foreach (Position p in a.Positions)
                    if (p.MarketPosition != MarketPosition.Flat && p.Quantity != 0)
                        list.Add(NB.Messages.Position(p.Instrument.FullName,
                                                      p.MarketPosition == MarketPosition.Long ? p.Quantity : -p.Quantity,
                                                      p.AveragePrice));
            return list;
        }

        protected override NB.BridgeMessage AccountSnapshotOf(string account)
        {
            Account a;
            if (!accounts.TryGetValue(account, out a)) return null;
            Currency c = a.Denomination;
            return NB.Messages.AccountSnapshot(account, c == Currency.UsDollar ? "USD" : c == Currency.Euro ? "EUR" : c.ToString(),
                                               a.Get(AccountItem.CashValue, c), a.Get(AccountItem.RealizedProfitLoss, c),
                                               a.Get(AccountItem.UnrealizedProfitLoss, c), NB.Clock.NowNs());
        }

        // ---- market data ----------------------------------------------------------------------------

        protected override string Subscribe(string name)
        {
            Instrument instrument = Instrument.GetInstrument(name);
            if (instrument == null) return "NinjaTrader has no instrument " + name;
            lock (subscribed) subscribed[name] = instrument;
            if (!instrument.Dispatcher.HasShutdownStarted)
                instrument.Dispatcher.InvokeAsync(() => instrument.MarketData.Update += OnMarketData);
            return null;
        }

        protected override void Unsubscribe(string name)
        {
            Instrument instrument;
            lock (subscribed)
            {
                if (!subscribed.TryGetValue(name, out instrument)) return;
                subscribed.Remove(name);
            }
            if (!instrument.Dispatcher.HasShutdownStarted)
                instrument.Dispatcher.InvokeAsync(() => instrument.MarketData.Update -= OnMarketData);
        }

        void OnMarketData(object sender, MarketDataEventArgs e)
        {
            int slot = e.MarketDataType == MarketDataType.Bid ? 0 : e.MarketDataType == MarketDataType.Ask ? 1
                     : e.MarketDataType == MarketDataType.Last ? 2 : -1;
            if (slot < 0) return;
            string name = e.Instrument.FullName;
            double?[] q;
            lock (quotes)
            {
                if (!quotes.TryGetValue(name, out q)) quotes[name] = q = new double?[6];
                q[slot] = e.Price;
                q[slot + 3] = e.Volume;
                q = (double?[])q.Clone();
            }
            ReportTick(name, q[0], q[1], q[2], q[3], q[4], q[5], NB.Clock.ToNs(e.Time));
        }

        // ---- helpers --------------------------------------------------------------------------------

        // NinjaTrader OrderState -> bridge status (docs/bridge-protocol.md, order_update); null: not sent
        static string Status(OrderState s, int filled)
        {
            switch (s)
            {
                case OrderState.Initialized:
                case OrderState.Submitted: return NB.OrderStatuses.Pending;
                case OrderState.Accepted:
                case OrderState.Working:
                case OrderState.TriggerPending:
                case OrderState.ChangePending:
                case OrderState.ChangeSubmitted:
                case OrderState.CancelPending:
                case OrderState.CancelSubmitted: return filled > 0 ? NB.OrderStatuses.PartiallyFilled : NB.OrderStatuses.Accepted;
                case OrderState.PartFilled: return NB.OrderStatuses.PartiallyFilled;
                case OrderState.Filled: return NB.OrderStatuses.Filled;
                case OrderState.Cancelled: return NB.OrderStatuses.Cancelled;
                case OrderState.Rejected: return NB.OrderStatuses.Rejected;
                default: return null; // Unknown
            }
        }

        protected override void Log(string line) { NexusBridgeAddOn.Output(line); }
    }
}
