// The platform-independent half of the NinjaTrader AddOn and the Quantower plugin: what to do with each
// request of the adapter, given a platform that can place, cancel and report. A platform subclasses it
// with its API calls only (ninjascript/NexusBridgeAddOn.cs, quantower/NexusBridgePlugin.cs); the test
// host (TestHost/) subclasses it with an in-memory platform and runs it against the Python adapter.
//
// Guarantees (docs/bridge-protocol.md, sections 4-6):
// * a client order id is placed at most once: it is recorded (OrderRegistry.TryAdd) before Place is
//   called, and a repeated order_submit is answered with the order's current state, never placed again;
// * requests the platform cannot serve are refused before anything is placed, with the protocol's error
//   codes (unknown_account, invalid_order, unknown_instrument, ...) and the id forgotten, so the adapter
//   may resubmit it; an order that exists and is then rejected is an order_update "rejected";
// * every state change and execution is recorded in the registry before it is sent, so what could not
//   be sent (no connection) is in the answer to the next open_orders_query;
// * the handlers run on the BridgeClient's thread and must not block: a subclass marshals its platform
//   calls where the platform requires it and returns.
using System;
using System.Collections.Generic;

namespace Nexus.Bridge
{
    /// <summary>Why a submit was refused before anything was placed (an "error" message).</summary>
    public sealed class Refusal
    {
        public readonly string Code;
        public readonly string Message;
        public Refusal(string code, string message) { Code = code; Message = message; }
    }

    public abstract class PlatformBridge : IBridgeHandler, IDisposable
    {
        protected readonly OrderRegistry Registry = new OrderRegistry();
        readonly BridgeClientOptions options;
        readonly object gate = new object();
        readonly HashSet<string> subscriptions = new HashSet<string>(StringComparer.Ordinal);
        BridgeClient client;

        protected PlatformBridge(BridgeClientOptions options) { this.options = options; }

        public bool IsConnected { get { BridgeClient c = client; return c != null && c.IsConnected; } }
        public int Connections { get { BridgeClient c = client; return c == null ? 0 : c.Connections; } }

        public virtual void Start()
        {
            lock (gate)
            {
                if (client != null) return;
                client = new BridgeClient(options, this);
                client.Start();
            }
        }

        public virtual void Stop()
        {
            BridgeClient c;
            lock (gate) { c = client; client = null; }
            if (c != null) c.Stop();
            UnsubscribeAll();
        }

        public void Dispose() { Stop(); }

        // ---- what the platform part implements ------------------------------------------------------

        protected abstract string PlatformName { get; }        // Platforms.Nt8 or Platforms.Quantower
        protected abstract string PlatformVersion { get; }
        protected abstract string AuthToken { get; }
        protected abstract IList<string> Accounts();
        protected abstract bool SupportsTimeInForce(string timeInForce);
        /// <summary>Place a recorded order_submit. Return null once handed to the platform (its states follow
        /// through ReportOrder), or a Refusal if nothing was placed.</summary>
        protected abstract Refusal Place(BridgeMessage submit);
        protected abstract void Cancel(OrderRegistry.Entry entry);
        /// <summary>Start market data for the instrument; null, or why it cannot.</summary>
        protected abstract string Subscribe(string instrument);
        protected abstract void Unsubscribe(string instrument);
        /// <summary>Every non-flat position of the account as "Position" records.</summary>
        protected abstract IEnumerable<BridgeRecord> PositionsOf(string account);
        /// <summary>The account's values as an account_snapshot, or null when not available.</summary>
        protected virtual BridgeMessage AccountSnapshotOf(string account) { return null; }
        /// <summary>Working orders not placed through the bridge ("WorkingOrder" records), for the snapshot.</summary>
        protected virtual IEnumerable<BridgeRecord> OtherWorkingOrders() { return null; }
        protected virtual void Log(string line) { }

        // ---- what the platform part calls (any thread) ------------------------------------------------

        /// <summary>A state change of an order placed through the bridge (ignored for other orders).</summary>
        protected void ReportOrder(string clientOrderId, string platformOrderId, string status, long filledQuantity,
                                   double? avgFillPrice, string reason)
        {
            if (clientOrderId == null || Registry.Find(clientOrderId) == null) return;
            if (platformOrderId != null) Registry.Bind(clientOrderId, platformOrderId);
            Send(Registry.Update(clientOrderId, status, filledQuantity, avgFillPrice, reason, Clock.NowNs()));
        }

        /// <summary>An execution (any order's: the adapter reports foreign ones as such). Journaled, then sent;
        /// a repeated identical report is not sent again, an amended one is.</summary>
        protected void ReportExecution(string executionId, string account, string clientOrderId, string platformOrderId,
                                       string instrument, string side, long quantity, double price, double commission,
                                       long timeNs)
        {
            BridgeRecord x = Messages.Execution(executionId, account, clientOrderId ?? "", platformOrderId ?? "",
                                                instrument, side, quantity, price, commission, timeNs);
            if (Registry.RecordExecution(x)) Send(Messages.ExecutionUpdate(x));
        }

        protected void ReportPositions(string account)
        {
            Send(Messages.PositionSnapshot(account, PositionsOf(account), Clock.NowNs()));
        }

        protected void ReportTick(string instrument, double? bid, double? ask, double? last, double? bidSize,
                                  double? askSize, double? lastSize, long timeNs)
        {
            lock (subscriptions) if (!subscriptions.Contains(instrument)) return;
            Send(Messages.Tick(instrument, bid, ask, last, bidSize, askSize, lastSize, timeNs));
        }

        protected bool Send(BridgeMessage message)
        {
            BridgeClient c = client;
            return c != null && c.Send(message);
        }

        // ---- IBridgeHandler -------------------------------------------------------------------------

        public BridgeMessage CreateHello() { return Messages.Hello(PlatformName, PlatformVersion, Accounts(), AuthToken); }

        public void OnConnected(BridgeMessage helloAck)
        {
            foreach (string account in Accounts())
            {
                ReportPositions(account);
                BridgeMessage snapshot = AccountSnapshotOf(account);
                if (snapshot != null) Send(snapshot);
            }
        }

        public void OnMessage(BridgeMessage m)
        {
            switch (m.Type)
            {
                case MessageTypes.OrderSubmit: OnSubmit(m); return;
                case MessageTypes.OrderCancel: OnCancel(m); return;
                case MessageTypes.OpenOrdersQuery: Send(Registry.Answer(m, Clock.NowNs(), OtherWorkingOrders())); return;
                case MessageTypes.MdSubscribe: OnSubscribe(m); return;
                case MessageTypes.MdUnsubscribe:
                    string instrument = m.GetString("instrument");
                    bool had;
                    lock (subscriptions) had = subscriptions.Remove(instrument);
                    if (had) Unsubscribe(instrument);
                    return;
                case MessageTypes.Error:
                    Log("adapter error " + m.GetString("code") + ": " + m.GetString("message"));
                    return;
                default:
                    Log("unexpected " + m.Type + " from the adapter");
                    return;
            }
        }

        public void OnDisconnected(string reason)
        {
            Log("disconnected: " + reason);
            UnsubscribeAll(); // subscriptions last for the connection; the adapter renews them
        }

        public void OnLog(string line) { Log(line); }

        // ---- requests ---------------------------------------------------------------------------------

        void OnSubmit(BridgeMessage m)
        {
            string coid = m.GetString("client_order_id");
            long now = Clock.NowNs();
            OrderRegistry.Entry existing;
            if (!Registry.TryAdd(m, now, out existing))
            {
                Send(Registry.CurrentUpdate(coid, now)); // a repeated id places nothing
                return;
            }
            Refusal refusal;
            if (!Accounts().Contains(m.GetString("account")))
                refusal = new Refusal(ErrorCodes.UnknownAccount, "no account " + m.GetString("account"));
            else if (!SupportsTimeInForce(m.GetString("time_in_force")))
                refusal = new Refusal(ErrorCodes.InvalidOrder, PlatformName + " cannot place time in force " + m.GetString("time_in_force"));
            else
            {
                try { refusal = Place(m); }
                catch (Exception ex) { refusal = new Refusal(ErrorCodes.Internal, "placing failed: " + ex.Message); }
            }
            if (refusal == null) return;
            Registry.Remove(coid);
            Send(Messages.Error(refusal.Code, refusal.Message, m.Seq, coid));
        }

        void OnCancel(BridgeMessage m)
        {
            string coid = m.GetString("client_order_id");
            OrderRegistry.Entry entry = Registry.Find(coid);
            if (entry == null)
            {
                Send(Messages.Error(ErrorCodes.UnknownOrder, "no order named " + coid, m.Seq, coid));
                return;
            }
            if (OrderStatuses.IsTerminal(entry.Status))
            {
                Send(Registry.CurrentUpdate(coid, Clock.NowNs())); // already final: say so
                return;
            }
            try { Cancel(entry); }
            catch (Exception ex) { Send(Messages.Error(ErrorCodes.Internal, "cancel failed: " + ex.Message, m.Seq, coid)); }
        }

        void OnSubscribe(BridgeMessage m)
        {
            string instrument = m.GetString("instrument");
            lock (subscriptions) if (subscriptions.Contains(instrument)) return;
            string problem = Subscribe(instrument);
            if (problem != null)
            {
                Send(Messages.Error(ErrorCodes.UnknownInstrument, problem, m.Seq, null));
                return;
            }
            lock (subscriptions) subscriptions.Add(instrument);
        }

        void UnsubscribeAll()
        {
            List<string> current;
            lock (subscriptions) { current = new List<string>(subscriptions); subscriptions.Clear(); }
            foreach (string instrument in current)
            {
                try { Unsubscribe(instrument); }
                catch (Exception ex) { Log("unsubscribe " + instrument + " failed: " + ex.Message); }
            }
        }
    }
}
