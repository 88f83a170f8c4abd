// Checks of BridgeCore parts that vectors.json does not cover: encode-side validation, the order
// registry, the backoff.
using System;
using System.Collections.Generic;
using System.Linq;
using Nexus.Bridge;

namespace Nexus.Bridge.Tests
{
    static class UnitChecks
    {
        const string Coid = "01JGZ8Y5E3V7Q2M4N6P8R0S2T4.N80";

        public static void Run()
        {
            EncodeValidation();
            Registry();
            BackoffDelays();
        }

        static BridgeMessage Submit(string coid, string type = OrderTypes.Limit, double? limit = 16250.75)
        {
            return new BridgeMessage(MessageTypes.OrderSubmit).Set("client_order_id", coid).Set("account", "Sim101")
                .Set("instrument", "NQ 03-25").Set("side", Sides.Buy).Set("quantity", 2).Set("order_type", type)
                .Set("limit_price", limit).Set("stop_price", null).Set("time_in_force", TimesInForce.Day);
        }

        static void EncodeValidation()
        {
            var enc = new FrameEncoder();
            BridgeMessage ok = Submit(Coid);
            Program.Check(Frame.Decode(enc.Encode(ok)).ValueEquals(ok) && ok.Seq == 1, "encoder stamps seq 1");
            Program.Check(Frame.Decode(enc.Encode(Messages.Heartbeat(5))).Seq == 2, "encoder stamps seq 2");
            Program.Expect(FrameErrorKind.BadSeq, "seq", "unstamped", () => Frame.Encode(Submit(Coid)));
            var bad = Submit(new string('x', 51));
            bad.Seq = 1;
            Program.Expect(FrameErrorKind.BadValue, "client_order_id", "coid too long", () => Frame.Encode(bad));
            var market = Submit(Coid, OrderTypes.Market);
            market.Seq = 1;
            Program.Expect(FrameErrorKind.BadValue, "", "market order with a limit price", () => Frame.Encode(market));
            var unset = new BridgeMessage(MessageTypes.Heartbeat) { Seq = 1 };
            Program.Expect(FrameErrorKind.MissingField, "time_ns", "unset field", () => Frame.Encode(unset));
            var surrogate = Messages.Error(ErrorCodes.Internal, "\ud800");
            surrogate.Seq = 1;
            Program.Expect(FrameErrorKind.BadValue, "message", "lone surrogate", () => Frame.Encode(surrogate));
            var hello = Messages.Hello(Platforms.Nt8, "8.1", new[] { "Sim101" }, "hunter2");
            Program.Check(!hello.ToString().Contains("hunter2"), "ToString redacts auth_token");
            var big = Messages.Error(ErrorCodes.Internal, new string('x', Frame.MaxBodyBytes));
            big.Seq = 1;
            Program.Expect(FrameErrorKind.BadLength, null, "body over 1 MiB", () => Frame.Encode(big));
        }

        static void Registry()
        {
            var reg = new OrderRegistry(maxExecutions: 3);
            OrderRegistry.Entry existing;
            Program.Check(reg.TryAdd(Submit(Coid), 1, out existing), "registry: first submit accepted");
            Program.Check(!reg.TryAdd(Submit(Coid), 2, out existing) && existing.ClientOrderId == Coid, "registry: repeated submit refused");
            Program.Check(reg.PendingClientOrderIds().SequenceEqual(new[] { Coid }), "registry: pending until acknowledged");
            reg.Bind(Coid, "P1");
            reg.Bind(Coid, "P2"); // NinjaTrader may change Order.OrderId
            Program.Check(reg.FindByPlatformOrderId("P1") == null && reg.FindByPlatformOrderId("P2").ClientOrderId == Coid, "registry: rebind");
            BridgeMessage upd = reg.Update(Coid, OrderStatuses.Accepted, 0, null, null, 10);
            Program.Check(upd.GetString("platform_order_id") == "P2" && upd.GetString("status") == "accepted", "registry: update message");
            Program.Check(reg.PendingClientOrderIds().Count == 0, "registry: acknowledged is not pending");
            for (int i = 1; i <= 4; i++)
                reg.RecordExecution(Messages.Execution("E" + i, "Sim101", Coid, "P2", "NQ 03-25", Sides.Buy, 1, 16250.75, 1.1, 100 * i));
            Program.Check(!reg.RecordExecution(Messages.Execution("E4", "Sim101", Coid, "P2", "NQ 03-25", Sides.Buy, 1, 16250.75, 1.1, 400)),
                          "registry: identical execution ignored");
            Program.Check(reg.RecordExecution(Messages.Execution("E4", "Sim101", Coid, "P2", "NQ 03-25", Sides.Buy, 1, 16250.5, 1.1, 400)),
                          "registry: amended execution replaces");
            var query = new BridgeMessage(MessageTypes.OpenOrdersQuery).Set("request_id", "q").Set("accounts", new string[0])
                .Set("client_order_ids", new[] { Coid, "NEVER.N80" }).Set("since_execution_id", "E2").Set("since_time_ns", null);
            BridgeMessage snap = reg.Answer(query, 500);
            snap.Seq = 1;
            Program.Check(Frame.Decode(Frame.Encode(snap)).ValueEquals(snap), "registry: snapshot encodes");
            Program.Check(snap.GetRecords("orders").Count == 1 && snap.GetStrings("unknown_client_order_ids").SequenceEqual(new[] { "NEVER.N80" }),
                          "registry: orders and unknown ids");
            Program.Check(snap.GetRecords("executions").Select(x => x.GetString("execution_id")).SequenceEqual(new[] { "E3", "E4" }),
                          "registry: executions after an id");
            query.Set("since_execution_id", "E1").Set("since_time_ns", 400L); // E1 evicted: fall back to time
            Program.Check(reg.Answer(query, 500).GetRecords("executions").Count == 1, "registry: executions since a time");
            reg.Update(Coid, OrderStatuses.Filled, 2, 16250.75, null, 20);
            query.Set("client_order_ids", new string[0]);
            Program.Check(reg.Answer(query, 500).GetRecords("orders").Count == 0, "registry: filled order is not working");
            query.Set("client_order_ids", new[] { Coid });
            Program.Check(reg.Answer(query, 500).GetRecords("orders")[0].GetString("status") == "filled", "registry: queried id reported in any state");
        }

        static void BackoffDelays()
        {
            var b = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1000), 2.0, new Random(7));
            var delays = Enumerable.Range(0, 8).Select(_ => b.Next().TotalMilliseconds).ToList();
            double[] ceilings = { 100, 200, 400, 800, 1000, 1000, 1000, 1000 };
            bool within = true;
            for (int i = 0; i < delays.Count; i++) within &= delays[i] >= ceilings[i] / 2 && delays[i] <= ceilings[i];
            Program.Check(within, "backoff: equal jitter under an exponential ceiling, capped: " + string.Join(",", delays.Select(d => (int)d)));
            b.Reset();
            Program.Check(b.Next().TotalMilliseconds <= 100 && b.Attempt == 1, "backoff: reset");
        }
    }
}
