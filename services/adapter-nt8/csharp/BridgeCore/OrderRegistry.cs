// Order-id bookkeeping on the platform side, and the answer to open_orders_query.
//
// The guarantees the adapter relies on (docs/bridge-protocol.md, "Recovery"):
// * a client order id is placed at most once: TryAdd refuses a known id, and the caller answers the
//   repeated order_submit with the order's current state instead of placing it again;
// * client order id <-> platform order id both ways; NinjaTrader's Order.OrderId can change during an
//   order's life, so Bind may be called again and the reverse map follows;
// * the state of every order and a journal of executions outlive the connection, so after a reconnect
//   the query tells the adapter what it missed, including whether a submit it is unsure of ever arrived
//   (unknown_client_order_ids is the only proof that resubmitting is safe).
// Thread-safe: platform events arrive on the platform's threads, queries on the bridge thread.
using System;
using System.Collections.Generic;

namespace Nexus.Bridge
{
    public sealed class OrderRegistry
    {
        public sealed class Entry
        {
            public string ClientOrderId;
            public string PlatformOrderId;
            public BridgeMessage Submit;
            public string Status = OrderStatuses.Pending;
            public long FilledQuantity;
            public double? AvgFillPrice;
            public string Reason;
            public long UpdatedNs;
        }

        readonly object gate = new object();
        readonly Dictionary<string, Entry> byClientId = new Dictionary<string, Entry>(StringComparer.Ordinal);
        readonly Dictionary<string, Entry> byPlatformId = new Dictionary<string, Entry>(StringComparer.Ordinal);
        readonly List<BridgeRecord> executions = new List<BridgeRecord>();
        readonly int maxExecutions;

        public OrderRegistry(int maxExecutions = 10000) { this.maxExecutions = maxExecutions; }

        /// <summary>Record a submit before placing it. False (and the existing entry) if the id is known.</summary>
        public bool TryAdd(BridgeMessage submit, long nowNs, out Entry existing)
        {
            if (submit.Type != MessageTypes.OrderSubmit) throw new ArgumentException("expected an order_submit");
            string id = submit.GetString("client_order_id");
            lock (gate)
            {
                if (byClientId.TryGetValue(id, out existing)) return false;
                byClientId[id] = new Entry { ClientOrderId = id, Submit = submit, UpdatedNs = nowNs };
                return true;
            }
        }

        /// <summary>Forget an order that was never placed (e.g. the platform refused it synchronously).</summary>
        public void Remove(string clientOrderId)
        {
            lock (gate)
            {
                Entry e;
                if (!byClientId.TryGetValue(clientOrderId, out e)) return;
                byClientId.Remove(clientOrderId);
                if (e.PlatformOrderId != null) byPlatformId.Remove(e.PlatformOrderId);
            }
        }

        public void Bind(string clientOrderId, string platformOrderId)
        {
            lock (gate)
            {
                Entry e = Require(clientOrderId);
                if (e.PlatformOrderId != null) byPlatformId.Remove(e.PlatformOrderId);
                e.PlatformOrderId = platformOrderId;
                if (platformOrderId != null) byPlatformId[platformOrderId] = e;
            }
        }

        public Entry Find(string clientOrderId)
        {
            lock (gate) { Entry e; return byClientId.TryGetValue(clientOrderId, out e) ? e : null; }
        }

        public Entry FindByPlatformOrderId(string platformOrderId)
        {
            lock (gate) { Entry e; return byPlatformId.TryGetValue(platformOrderId, out e) ? e : null; }
        }

        /// <summary>Apply a state change and return the order_update to send.</summary>
        public BridgeMessage Update(string clientOrderId, string status, long filledQuantity, double? avgFillPrice,
                                    string reason, long timeNs)
        {
            lock (gate)
            {
                Entry e = Require(clientOrderId);
                e.Status = status;
                e.FilledQuantity = filledQuantity;
                e.AvgFillPrice = avgFillPrice;
                e.Reason = reason;
                e.UpdatedNs = timeNs;
                return UpdateMessage(e, timeNs);
            }
        }

        /// <summary>The order's current state as an order_update (the answer to a repeated submit).</summary>
        public BridgeMessage CurrentUpdate(string clientOrderId, long timeNs)
        {
            lock (gate) return UpdateMessage(Require(clientOrderId), timeNs);
        }

        /// <summary>Journal an execution (an "Execution" record). A known id amends the earlier report.
        /// Returns false when the report is identical to the one already journaled.</summary>
        public bool RecordExecution(BridgeRecord execution)
        {
            string id = execution.GetString("execution_id");
            lock (gate)
            {
                for (int i = executions.Count - 1; i >= 0; i--)
                {
                    if (executions[i].GetString("execution_id") != id) continue;
                    if (executions[i].ValueEquals(execution)) return false;
                    executions[i] = execution;
                    return true;
                }
                executions.Add(execution);
                if (executions.Count > maxExecutions) executions.RemoveRange(0, executions.Count - maxExecutions);
                return true;
            }
        }

        /// <summary>Submits the platform has not acknowledged yet (status still pending).</summary>
        public List<string> PendingClientOrderIds()
        {
            var ids = new List<string>();
            lock (gate)
                foreach (Entry e in byClientId.Values)
                    if (e.Status == OrderStatuses.Pending) ids.Add(e.ClientOrderId);
            return ids;
        }

        /// <summary>
        /// The open_orders_snapshot answering a query: every working order of the queried accounts (all when
        /// the list is empty), every queried id known here whatever its state, the queried ids never seen,
        /// and the executions after since_execution_id (if journaled), else at or after since_time_ns, else
        /// all journaled. otherWorkingOrders adds orders placed outside the bridge (WorkingOrder records).
        /// </summary>
        public BridgeMessage Answer(BridgeMessage query, long nowNs, IEnumerable<BridgeRecord> otherWorkingOrders = null)
        {
            var accounts = new HashSet<string>(query.GetStrings("accounts"), StringComparer.Ordinal);
            var wanted = query.GetStrings("client_order_ids");
            var orders = new List<BridgeRecord>();
            var unknown = new List<string>();
            var listed = new HashSet<string>(StringComparer.Ordinal);
            var result = new List<BridgeRecord>();
            lock (gate)
            {
                foreach (Entry e in byClientId.Values)
                {
                    if (OrderStatuses.IsTerminal(e.Status)) continue;
                    if (accounts.Count > 0 && !accounts.Contains(e.Submit.GetString("account"))) continue;
                    orders.Add(WorkingOrder(e));
                    listed.Add(e.ClientOrderId);
                }
                foreach (string id in wanted)
                {
                    Entry e;
                    if (!byClientId.TryGetValue(id, out e)) { if (!unknown.Contains(id)) unknown.Add(id); continue; }
                    if (listed.Add(id)) orders.Add(WorkingOrder(e));
                }
                result.AddRange(ExecutionsSince(query.Get("since_execution_id") as string, query.GetNullableLong("since_time_ns")));
            }
            if (otherWorkingOrders != null) orders.AddRange(otherWorkingOrders);
            return new BridgeMessage(MessageTypes.OpenOrdersSnapshot).Set("request_id", query.GetString("request_id"))
                .Set("orders", orders).Set("unknown_client_order_ids", unknown).Set("executions", result).Set("time_ns", nowNs);
        }

        List<BridgeRecord> ExecutionsSince(string executionId, long? sinceNs)
        {
            if (executionId != null)
            {
                int at = executions.FindIndex(x => x.GetString("execution_id") == executionId);
                if (at >= 0) return executions.GetRange(at + 1, executions.Count - at - 1);
            }
            if (sinceNs.HasValue) return executions.FindAll(x => x.GetLong("time_ns") >= sinceNs.Value);
            return new List<BridgeRecord>(executions);
        }

        static BridgeRecord WorkingOrder(Entry e)
        {
            BridgeRecord order = Messages.CopyInto(BridgeRecord.Create("WorkingOrder"), e.Submit);
            return order.Set("platform_order_id", e.PlatformOrderId).Set("status", e.Status)
                .Set("filled_quantity", e.FilledQuantity).Set("avg_fill_price", e.AvgFillPrice);
        }

        static BridgeMessage UpdateMessage(Entry e, long timeNs)
        {
            return Messages.OrderUpdate(e.ClientOrderId, e.Submit.GetString("account"), e.PlatformOrderId, e.Status,
                                        e.FilledQuantity, e.AvgFillPrice, e.Reason, timeNs);
        }

        Entry Require(string clientOrderId)
        {
            Entry e;
            if (!byClientId.TryGetValue(clientOrderId, out e)) throw new KeyNotFoundException("unknown client order id " + clientOrderId);
            return e;
        }
    }
}
