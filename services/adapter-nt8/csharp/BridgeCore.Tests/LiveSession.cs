// The platform side of a live session against the Python peer in test_bridge_csharp.py, through the
// real BridgeClient (reconnect loop included) and OrderRegistry. The peer drives; this plays a
// platform that fills every order at its limit price. Prints "LIVE OK" and exits 0 when the peer has
// run two sessions and closed; exit 1 on a failed check, 2 on timeout.
using System;
using System.Collections.Generic;
using System.Threading;
using Nexus.Bridge;

namespace Nexus.Bridge.Tests
{
    sealed class LiveSession : IBridgeHandler
    {
        readonly OrderRegistry registry = new OrderRegistry();
        readonly ManualResetEvent done = new ManualResetEvent(false);
        readonly List<string> failures = new List<string>();
        BridgeClient client;
        int sessions, disconnects, executions, queriesAnswered;

        public static int Run(string host, int port)
        {
            var live = new LiveSession();
            var options = new BridgeClientOptions
            {
                Host = host,
                Port = port,
                Backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)),
            };
            using (live.client = new BridgeClient(options, live))
            {
                live.client.Start();
                bool finished = live.done.WaitOne(TimeSpan.FromSeconds(60));
                live.client.Stop();
                if (!finished) { Console.WriteLine("LIVE TIMEOUT sessions=" + live.sessions); return 2; }
            }
            foreach (string f in live.failures) Console.WriteLine("FAIL " + f);
            Console.WriteLine((live.failures.Count == 0 ? "LIVE OK" : "LIVE FAILED") + " sessions=" + live.sessions +
                              " connections=" + live.client.Connections + " queries=" + live.queriesAnswered);
            return live.failures.Count == 0 ? 0 : 1;
        }

        void Expect(bool ok, string what) { if (!ok) lock (failures) failures.Add(what); }

        public BridgeMessage CreateHello()
        {
            return Messages.Hello(Platforms.Nt8, "8.1.4.1 (BridgeCore.Tests)", new[] { "Sim101" }, "test-token");
        }

        public void OnConnected(BridgeMessage ack)
        {
            sessions++;
            Expect(ack.GetBool("accepted") && ack.GetLong("protocol_version") == 1, "hello_ack accepted, version 1");
            Expect(ack.Seq == 1, "hello_ack is the adapter's first frame");
        }

        public void OnMessage(BridgeMessage m)
        {
            long now = Clock.NowNs();
            switch (m.Type)
            {
                case MessageTypes.OrderSubmit:
                    string coid = m.GetString("client_order_id");
                    OrderRegistry.Entry existing;
                    if (!registry.TryAdd(m, now, out existing))
                    {
                        client.Send(registry.CurrentUpdate(coid, now)); // a replayed submit places nothing
                        return;
                    }
                    Expect(m.GetString("instrument") == "NQ 03-25" && m.GetLong("quantity") == 2 && m.GetString("side") == Sides.Buy,
                           "order_submit fields");
                    double price = m.GetDouble("limit_price");
                    string platformId = "NT-" + (++executions);
                    registry.Bind(coid, platformId);
                    client.Send(registry.Update(coid, OrderStatuses.Accepted, 0, null, null, now));
                    BridgeRecord fill = Messages.Execution("EX-" + executions, m.GetString("account"), coid, platformId,
                                                           m.GetString("instrument"), m.GetString("side"), m.GetLong("quantity"), price, 4.3, now);
                    registry.RecordExecution(fill);
                    client.Send(Messages.ExecutionUpdate(fill));
                    client.Send(registry.Update(coid, OrderStatuses.Filled, m.GetLong("quantity"), price, null, now));
                    return;
                case MessageTypes.OrderCancel:
                    string id = m.GetString("client_order_id");
                    if (registry.Find(id) == null)
                        client.Send(Messages.Error(ErrorCodes.UnknownOrder, "no order named " + id, m.Seq, id));
                    else
                        client.Send(registry.CurrentUpdate(id, now)); // already terminal here: report the state
                    return;
                case MessageTypes.OpenOrdersQuery:
                    client.Send(registry.Answer(m, now));
                    queriesAnswered++;
                    return;
                default:
                    Expect(false, "unexpected " + m.Type);
                    return;
            }
        }

        public void OnDisconnected(string reason)
        {
            disconnects++;
            Console.WriteLine("disconnected: " + reason);
            if (sessions >= 2 && queriesAnswered >= 1) done.Set();
        }

        public void OnLog(string line) { Console.WriteLine("log: " + line); }
    }
}
