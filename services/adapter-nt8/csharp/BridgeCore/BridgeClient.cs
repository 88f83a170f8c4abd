// The platform side's connection to the Python adapter: connect, hello / hello_ack, heartbeats, read
// loop, and reconnect with backoff -- forever, until Stop.
//
// Guarantees:
// * one connection at a time; every connection starts with hello and seq 1 in both directions;
// * nothing but hello is sent before hello_ack accepted (Send returns false until then);
// * a frame that fails to decode ends the connection (after a best-effort error/bad_frame): the byte
//   stream is out of sync and guessing would be worse;
// * a connection that has been silent for 3 heartbeat intervals is dropped; the client itself sends a
//   heartbeat whenever it has sent nothing for one interval;
// * the handler runs on the client's reader thread: it must not block for long (NinjaTrader: marshal
//   platform calls to the platform's own threads, do not wait on them).
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading;

namespace Nexus.Bridge
{
    public sealed class BridgeClientOptions
    {
        public string Host = "127.0.0.1";
        public int Port = 9001; // the adapter's default (NX_NT8_PORT)
        public bool UseTls;
        /// <summary>Name the adapter's TLS certificate must carry (defaults to Host).</summary>
        public string TlsServerName;
        public TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
        public TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
        /// <summary>After a connection that lasted this long, the backoff starts from the beginning again.</summary>
        public TimeSpan StableAfter = TimeSpan.FromSeconds(10);
        public Backoff Backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
    }

    public interface IBridgeHandler
    {
        /// <summary>The hello for a new connection (called once per connection).</summary>
        BridgeMessage CreateHello();
        void OnConnected(BridgeMessage helloAck);
        /// <summary>Every message after hello_ack except heartbeats.</summary>
        void OnMessage(BridgeMessage message);
        void OnDisconnected(string reason);
        void OnLog(string line);
    }

    public sealed class BridgeClient : IDisposable
    {
        readonly BridgeClientOptions options;
        readonly IBridgeHandler handler;
        readonly ManualResetEvent stopping = new ManualResetEvent(false);
        readonly object sendGate = new object();
        Thread thread;
        TcpClient tcp;
        Stream stream;
        FrameEncoder encoder;
        volatile bool ready;
        long lastSendTicks, lastReceiveTicks;
        int connections;

        public BridgeClient(BridgeClientOptions options, IBridgeHandler handler)
        {
            this.options = options;
            this.handler = handler;
        }

        public bool IsConnected { get { return ready; } }
        public int Connections { get { return connections; } }

        public void Start()
        {
            if (thread != null) throw new InvalidOperationException("already started");
            thread = new Thread(Run) { IsBackground = true, Name = "nexus-bridge" };
            thread.Start();
        }

        /// <summary>Stop reconnecting, close the connection and wait for the reader thread.</summary>
        public void Stop()
        {
            stopping.Set();
            CloseTransport();
            if (thread != null && thread != Thread.CurrentThread) thread.Join(TimeSpan.FromSeconds(5));
        }

        public void Dispose() { Stop(); }

        /// <summary>Stamp and send a message. False when not connected or the write failed (the connection
        /// is then closed and will be re-established; state is recovered by open_orders_query). Throws
        /// BridgeProtocolException for a message that is not valid (a bug in the caller).</summary>
        public bool Send(BridgeMessage message)
        {
            return ready && Write(message);
        }

        bool Write(BridgeMessage message)
        {
            lock (sendGate)
            {
                Stream s = stream;
                if (s == null) return false;
                try
                {
                    byte[] frame = encoder.Encode(message);
                    s.Write(frame, 0, frame.Length);
                    s.Flush();
                    Interlocked.Exchange(ref lastSendTicks, DateTime.UtcNow.Ticks);
                    return true;
                }
                catch (IOException ex) { Log("send failed: " + ex.Message); }
                catch (ObjectDisposedException) { }
                catch (NotSupportedException ex) { Log("send failed: " + ex.Message); } // SslStream closed mid-write
            }
            CloseTransport();
            return false;
        }

        void Run()
        {
            while (!stopping.WaitOne(0))
            {
                DateTime started = DateTime.UtcNow;
                string reason = "closed";
                bool wasReady = false;
                try
                {
                    Stream s = Open();
                    Interlocked.Increment(ref connections);
                    var decoder = new FrameDecoder();
                    BridgeMessage ack = Handshake(s, decoder);
                    if (ack != null)
                    {
                        wasReady = true;
                        reason = Session(s, decoder, ack);
                    }
                    else reason = "hello refused";
                }
                catch (BridgeProtocolException ex)
                {
                    reason = "protocol error: " + ex.Message;
                    Write(Messages.Error(ErrorCodes.BadFrame, ex.Message));
                }
                catch (Exception ex)
                {
                    // I/O, timeouts, TLS failures, and a connection closed under us by Stop or the watchdog.
                    reason = ex.GetType().Name + ": " + ex.Message;
                }
                finally
                {
                    ready = false;
                    CloseTransport();
                }
                if (wasReady)
                {
                    try { handler.OnDisconnected(reason); } catch (Exception ex) { Log("OnDisconnected threw: " + ex); }
                }
                if (DateTime.UtcNow - started >= options.StableAfter) options.Backoff.Reset();
                if (stopping.WaitOne(0)) break;
                TimeSpan delay = options.Backoff.Next();
                Log("disconnected (" + reason + "); reconnecting in " + (int)delay.TotalMilliseconds + " ms");
                stopping.WaitOne(delay);
            }
        }

        Stream Open()
        {
            var client = new TcpClient { NoDelay = true };
            lock (sendGate) tcp = client; // so that Stop can abort a connect in progress
            IAsyncResult pending = client.BeginConnect(options.Host, options.Port, null, null);
            if (!pending.AsyncWaitHandle.WaitOne(options.ConnectTimeout))
                throw new TimeoutException("connect to " + options.Host + ":" + options.Port + " timed out");
            client.EndConnect(pending);
            Stream s = client.GetStream();
            if (options.UseTls)
            {
                var tls = new SslStream(s, false);
                tls.AuthenticateAsClient(options.TlsServerName ?? options.Host);
                s = tls;
            }
            lock (sendGate)
            {
                if (stopping.WaitOne(0)) throw new ObjectDisposedException("BridgeClient", "stopping");
                stream = s;
                encoder = new FrameEncoder();
            }
            return s;
        }

        // hello -> hello_ack. Returns the ack if accepted, null if refused.
        BridgeMessage Handshake(Stream s, FrameDecoder decoder)
        {
            inbox.Clear();
            if (!Write(handler.CreateHello())) throw new IOException("could not send hello");
            s.ReadTimeout = (int)options.HandshakeTimeout.TotalMilliseconds;
            BridgeMessage first = ReadOne(s, decoder);
            s.ReadTimeout = Timeout.Infinite;
            if (first.Type != MessageTypes.HelloAck)
                throw new BridgeProtocolException(FrameErrorKind.UnknownType, "expected hello_ack, got " + first.Type, "type");
            if (!first.GetBool("accepted"))
            {
                Log("hello refused: " + (first.Get("reason") ?? "no reason given"));
                return null;
            }
            return first;
        }

        readonly byte[] readBuffer = new byte[65536];
        readonly Queue<BridgeMessage> inbox = new Queue<BridgeMessage>();

        BridgeMessage ReadOne(Stream s, FrameDecoder decoder)
        {
            while (inbox.Count == 0)
            {
                int n = s.Read(readBuffer, 0, readBuffer.Length);
                if (n == 0) throw new IOException("connection closed by the adapter");
                Interlocked.Exchange(ref lastReceiveTicks, DateTime.UtcNow.Ticks);
                foreach (BridgeMessage m in decoder.Feed(readBuffer, 0, n)) inbox.Enqueue(m);
            }
            return inbox.Dequeue();
        }

        string Session(Stream s, FrameDecoder decoder, BridgeMessage ack)
        {
            var interval = TimeSpan.FromMilliseconds(ack.GetLong("heartbeat_interval_ms"));
            Interlocked.Exchange(ref lastReceiveTicks, DateTime.UtcNow.Ticks);
            ready = true;
            Log("connected to " + options.Host + ":" + options.Port + ", heartbeat " + (long)interval.TotalMilliseconds + " ms");
            handler.OnConnected(ack);
            long tickPeriod = Math.Max(10, (long)interval.TotalMilliseconds / 4);
            using (new Timer(_ => Beat(interval), null, tickPeriod, tickPeriod))
            {
                while (true)
                {
                    BridgeMessage m = ReadOne(s, decoder);
                    if (m.Type == MessageTypes.Heartbeat) continue;
                    try { handler.OnMessage(m); }
                    catch (Exception ex) { Log("handler failed on " + m.Type + " seq " + m.Seq + ": " + ex); }
                }
            }
        }

        void Beat(TimeSpan interval)
        {
            if (!ready) return;
            long now = DateTime.UtcNow.Ticks;
            if (now - Interlocked.Read(ref lastReceiveTicks) > 3 * interval.Ticks)
            {
                Log("no frame from the adapter for 3 heartbeat intervals; dropping the connection");
                CloseTransport();
                return;
            }
            if (now - Interlocked.Read(ref lastSendTicks) >= interval.Ticks) Write(Messages.Heartbeat(Clock.NowNs()));
        }

        void CloseTransport()
        {
            TcpClient client;
            Stream s;
            lock (sendGate)
            {
                client = tcp;
                s = stream;
                tcp = null;
                stream = null;
            }
            if (client == null) return;
            try { client.Client.Shutdown(SocketShutdown.Both); } catch (Exception) { }
            try { if (s != null) s.Dispose(); } catch (Exception) { }
            client.Close();
        }

        void Log(string line)
        {
            try { handler.OnLog(line); } catch (Exception) { }
        }
    }
}
