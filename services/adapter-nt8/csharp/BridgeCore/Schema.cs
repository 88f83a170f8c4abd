// The message table. It must equal the schema exported from the Python models (vectors.json "schema");
// the test program checks that, so libs/protocol stays the one definition of the protocol.
using System;
using System.Collections.Generic;

namespace Nexus.Bridge
{
    /// <summary>
    /// A wire kind, parsed from its name: string, name (non-empty), coid (1-50 chars 0x21-0x7E), int (int64),
    /// count (0..2^63-1), positive (1..2^31-1), float (finite), bool, enum:X, record:X, list:&lt;kind&gt;;
    /// a leading "?" allows null.
    /// </summary>
    public sealed class Kind
    {
        public readonly string Text;
        public readonly bool Nullable;
        public readonly string Base;    // "string", "int", "list", "enum", "record", ...
        public readonly string Ref;     // enum or record name
        public readonly Kind Item;      // list item kind

        public Kind(string text)
        {
            Text = text;
            string rest = text;
            if (rest.StartsWith("?", StringComparison.Ordinal)) { Nullable = true; rest = rest.Substring(1); }
            if (rest.StartsWith("list:", StringComparison.Ordinal)) { Base = "list"; Item = new Kind(rest.Substring(5)); }
            else if (rest.StartsWith("enum:", StringComparison.Ordinal)) { Base = "enum"; Ref = rest.Substring(5); }
            else if (rest.StartsWith("record:", StringComparison.Ordinal)) { Base = "record"; Ref = rest.Substring(7); }
            else Base = rest;
        }
    }

    public sealed class FieldSpec
    {
        public readonly string Name;
        public readonly Kind Kind;
        public FieldSpec(string name, string kind) { Name = name; Kind = new Kind(kind); }
    }

    /// <summary>The fields of one message type or record, in wire order (type and seq excluded).</summary>
    public sealed class RecordSchema
    {
        public readonly string Name;
        public readonly bool IsMessage;
        public readonly FieldSpec[] Fields;
        readonly Dictionary<string, int> index = new Dictionary<string, int>(StringComparer.Ordinal);

        public RecordSchema(string name, bool isMessage, FieldSpec[] fields)
        {
            Name = name;
            IsMessage = isMessage;
            Fields = fields;
            for (int i = 0; i < fields.Length; i++) index[fields[i].Name] = i;
        }

        public int IndexOf(string field)
        {
            int i;
            return index.TryGetValue(field, out i) ? i : -1;
        }
    }

    public static class Schema
    {
        public const int ProtocolVersion = 1;

        public static readonly Dictionary<string, string[]> Enums = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            { "Side", new[] { "buy", "sell" } },
            { "OrderType", new[] { "market", "limit", "stop" } },
            { "TimeInForce", new[] { "day", "gtc", "ioc", "fok" } },
            { "OrderStatus", new[] { "pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired" } },
            { "Platform", new[] { "nt8", "quantower" } },
            { "BridgeErrorCode", new[] { "bad_frame", "not_authenticated", "unknown_account", "unknown_instrument",
                                         "unknown_order", "invalid_order", "platform_disconnected", "internal" } },
        };

        static readonly FieldSpec[] ExecutionFields =
        {
            F("execution_id", "name"), F("account", "name"), F("client_order_id", "string"),
            F("platform_order_id", "string"), F("instrument", "name"), F("side", "enum:Side"),
            F("quantity", "positive"), F("price", "float"), F("commission", "float"), F("time_ns", "count"),
        };

        public static readonly Dictionary<string, RecordSchema> Records = Table(false,
            R("Position", F("instrument", "name"), F("quantity", "int"), F("avg_price", "float")),
            R("Execution", ExecutionFields),
            R("WorkingOrder", F("client_order_id", "string"), F("platform_order_id", "?string"), F("account", "name"),
              F("instrument", "name"), F("side", "enum:Side"), F("quantity", "positive"), F("order_type", "enum:OrderType"),
              F("limit_price", "?float"), F("stop_price", "?float"), F("time_in_force", "enum:TimeInForce"),
              F("status", "enum:OrderStatus"), F("filled_quantity", "count"), F("avg_fill_price", "?float")));

        public static readonly Dictionary<string, RecordSchema> Messages = Table(true,
            R("hello", F("platform", "enum:Platform"), F("platform_version", "name"), F("protocol_version", "positive"),
              F("accounts", "list:name"), F("auth_token", "string")),
            R("hello_ack", F("accepted", "bool"), F("reason", "?string"), F("protocol_version", "positive"),
              F("heartbeat_interval_ms", "positive")),
            R("heartbeat", F("time_ns", "count")),
            R("error", F("code", "enum:BridgeErrorCode"), F("message", "string"), F("ref_seq", "?count"),
              F("client_order_id", "?string")),
            R("order_submit", F("client_order_id", "coid"), F("account", "name"), F("instrument", "name"),
              F("side", "enum:Side"), F("quantity", "positive"), F("order_type", "enum:OrderType"),
              F("limit_price", "?float"), F("stop_price", "?float"), F("time_in_force", "enum:TimeInForce")),
            R("order_cancel", F("client_order_id", "coid")),
            R("order_update", F("client_order_id", "string"), F("account", "name"), F("platform_order_id", "?string"),
              F("status", "enum:OrderStatus"), F("filled_quantity", "count"), F("avg_fill_price", "?float"),
              F("reason", "?string"), F("time_ns", "count")),
            R("execution_update", ExecutionFields),
            R("position_snapshot", F("account", "name"), F("positions", "list:record:Position"), F("time_ns", "count")),
            R("account_snapshot", F("account", "name"), F("currency", "name"), F("cash", "float"),
              F("realized_pnl", "float"), F("unrealized_pnl", "float"), F("time_ns", "count")),
            R("open_orders_query", F("request_id", "name"), F("accounts", "list:name"), F("client_order_ids", "list:coid"),
              F("since_execution_id", "?string"), F("since_time_ns", "?count")),
            R("open_orders_snapshot", F("request_id", "name"), F("orders", "list:record:WorkingOrder"),
              F("unknown_client_order_ids", "list:coid"), F("executions", "list:record:Execution"), F("time_ns", "count")),
            R("md_subscribe", F("instrument", "name")),
            R("md_unsubscribe", F("instrument", "name")),
            R("tick", F("instrument", "name"), F("bid", "?float"), F("ask", "?float"), F("last", "?float"),
              F("bid_size", "?float"), F("ask_size", "?float"), F("last_size", "?float"), F("time_ns", "count")));

        public static RecordSchema Message(string type)
        {
            RecordSchema schema;
            if (!Messages.TryGetValue(type, out schema)) throw new ArgumentException("unknown message type " + type);
            return schema;
        }

        public static RecordSchema Record(string name)
        {
            return Records[name];
        }

        static FieldSpec F(string name, string kind) { return new FieldSpec(name, kind); }

        static KeyValuePair<string, FieldSpec[]> R(string name, params FieldSpec[] fields)
        {
            return new KeyValuePair<string, FieldSpec[]>(name, fields);
        }

        static Dictionary<string, RecordSchema> Table(bool messages, params KeyValuePair<string, FieldSpec[]>[] rows)
        {
            var table = new Dictionary<string, RecordSchema>(StringComparer.Ordinal);
            foreach (var row in rows) table[row.Key] = new RecordSchema(row.Key, messages, row.Value);
            return table;
        }
    }
}
