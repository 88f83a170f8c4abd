// Wire values and builders for the messages the platform side sends. Builders return messages with
// Seq 0; the FrameEncoder (inside BridgeClient.Send) stamps it.
using System;
using System.Collections.Generic;

namespace Nexus.Bridge
{
    public static class MessageTypes
    {
        public const string Hello = "hello", HelloAck = "hello_ack", Heartbeat = "heartbeat", Error = "error";
        public const string OrderSubmit = "order_submit", OrderCancel = "order_cancel", OrderUpdate = "order_update";
        public const string ExecutionUpdate = "execution_update", PositionSnapshot = "position_snapshot";
        public const string AccountSnapshot = "account_snapshot", OpenOrdersQuery = "open_orders_query";
        public const string OpenOrdersSnapshot = "open_orders_snapshot", MdSubscribe = "md_subscribe";
        public const string MdUnsubscribe = "md_unsubscribe", Tick = "tick";
    }

    public static class Sides { public const string Buy = "buy", Sell = "sell"; }
    public static class OrderTypes { public const string Market = "market", Limit = "limit", Stop = "stop"; }
    public static class TimesInForce { public const string Day = "day", Gtc = "gtc", Ioc = "ioc", Fok = "fok"; }
    public static class Platforms { public const string Nt8 = "nt8", Quantower = "quantower"; }

    public static class OrderStatuses
    {
        public const string Pending = "pending", Accepted = "accepted", PartiallyFilled = "partially_filled";
        public const string Filled = "filled", Cancelled = "cancelled", Rejected = "rejected", Expired = "expired";

        public static bool IsTerminal(string status)
        {
            return status == Filled || status == Cancelled || status == Rejected || status == Expired;
        }
    }

    public static class ErrorCodes
    {
        public const string BadFrame = "bad_frame", NotAuthenticated = "not_authenticated";
        public const string UnknownAccount = "unknown_account", UnknownInstrument = "unknown_instrument";
        public const string UnknownOrder = "unknown_order", InvalidOrder = "invalid_order";
        public const string PlatformDisconnected = "platform_disconnected", Internal = "internal";
    }

    public static class Clock
    {
        static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>Nanoseconds since the Unix epoch (100 ns resolution).</summary>
        public static long NowNs() { return ToNs(DateTime.UtcNow); }
        public static long ToNs(DateTime utc) { return (utc.ToUniversalTime() - Epoch).Ticks * 100; }
    }

    public static class Messages
    {
        public static BridgeMessage Hello(string platform, string platformVersion, IEnumerable<string> accounts, string authToken)
        {
            return new BridgeMessage(MessageTypes.Hello).Set("platform", platform).Set("platform_version", platformVersion)
                .Set("protocol_version", Schema.ProtocolVersion).Set("accounts", accounts).Set("auth_token", authToken);
        }

        public static BridgeMessage Heartbeat(long timeNs)
        {
            return new BridgeMessage(MessageTypes.Heartbeat).Set("time_ns", timeNs);
        }

        public static BridgeMessage Error(string code, string message, long? refSeq = null, string clientOrderId = null)
        {
            return new BridgeMessage(MessageTypes.Error).Set("code", code).Set("message", message)
                .Set("ref_seq", refSeq).Set("client_order_id", clientOrderId);
        }

        public static BridgeMessage OrderUpdate(string clientOrderId, string account, string platformOrderId, string status,
                                                long filledQuantity, double? avgFillPrice, string reason, long timeNs)
        {
            return new BridgeMessage(MessageTypes.OrderUpdate).Set("client_order_id", clientOrderId).Set("account", account)
                .Set("platform_order_id", platformOrderId).Set("status", status).Set("filled_quantity", filledQuantity)
                .Set("avg_fill_price", avgFillPrice).Set("reason", reason).Set("time_ns", timeNs);
        }

        /// <summary>An "Execution" record; send it with ExecutionUpdate(record), list it in a snapshot.</summary>
        public static BridgeRecord Execution(string executionId, string account, string clientOrderId, string platformOrderId,
                                             string instrument, string side, long quantity, double price, double commission, long timeNs)
        {
            return BridgeRecord.Create("Execution").Set("execution_id", executionId).Set("account", account)
                .Set("client_order_id", clientOrderId).Set("platform_order_id", platformOrderId).Set("instrument", instrument)
                .Set("side", side).Set("quantity", quantity).Set("price", price).Set("commission", commission).Set("time_ns", timeNs);
        }

        public static BridgeMessage ExecutionUpdate(BridgeRecord execution)
        {
            return (BridgeMessage)CopyInto(new BridgeMessage(MessageTypes.ExecutionUpdate), execution);
        }

        public static BridgeRecord Position(string instrument, long signedQuantity, double avgPrice)
        {
            return BridgeRecord.Create("Position").Set("instrument", instrument).Set("quantity", signedQuantity).Set("avg_price", avgPrice);
        }

        public static BridgeMessage PositionSnapshot(string account, IEnumerable<BridgeRecord> positions, long timeNs)
        {
            return new BridgeMessage(MessageTypes.PositionSnapshot).Set("account", account).Set("positions", positions).Set("time_ns", timeNs);
        }

        public static BridgeMessage AccountSnapshot(string account, string currency, double cash, double realizedPnl,
                                                    double unrealizedPnl, long timeNs)
        {
            return new BridgeMessage(MessageTypes.AccountSnapshot).Set("account", account).Set("currency", currency)
                .Set("cash", cash).Set("realized_pnl", realizedPnl).Set("unrealized_pnl", unrealizedPnl).Set("time_ns", timeNs);
        }

        public static BridgeMessage Tick(string instrument, double? bid, double? ask, double? last, double? bidSize,
                                         double? askSize, double? lastSize, long timeNs)
        {
            return new BridgeMessage(MessageTypes.Tick).Set("instrument", instrument).Set("bid", bid).Set("ask", ask)
                .Set("last", last).Set("bid_size", bidSize).Set("ask_size", askSize).Set("last_size", lastSize).Set("time_ns", timeNs);
        }

        /// <summary>Copies same-named fields (e.g. an Execution record into an execution_update).</summary>
        public static BridgeRecord CopyInto(BridgeRecord target, BridgeRecord source)
        {
            foreach (FieldSpec f in source.Schema.Fields)
                if (target.Schema.IndexOf(f.Name) >= 0 && source.IsSet(f.Name)) target.Set(f.Name, source.Get(f.Name));
            return target;
        }
    }
}
