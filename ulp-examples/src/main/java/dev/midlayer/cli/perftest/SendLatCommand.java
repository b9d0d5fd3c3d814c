package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code midlayer perftest send_lat}: {@code ib_send_lat} on the loopback fabric (or across JVMs with --fabric cluster).
 *
 * <p>How it measures: one RC QP pair, {@code -t} receives pre-posted on each side (re-posted one per
 * receive). The client (the command's thread) takes {@link System#nanoTime}, posts a send and polls its CQ
 * until the answer's receive completion; the server, a plain Java thread of its own, polls its CQ and
 * answers each receive with a send. Every send is signaled; send completions are counted so that at most
 * {@code -t} are outstanding. Each round trip goes into an HdrHistogram; the table reports half of it in
 * microseconds, after {@code --warmup} rounds that are not recorded. Both sides busy-poll with back-off
 * (or, with {@code -e}, wait for completion events).
 */
@Command(name = "send_lat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Send latency test (ib_send_lat): ping-pong over one RC QP pair on the loopback fabric (or across JVMs with --fabric cluster).",
        "Columns: #bytes #iterations t_min t_max t_typical (median) t_avg t_stdev 99%% 99.9%% percentile,",
        "all half round trips in usec."})
final class SendLatCommand extends PerftestCommandBase {
  private static final long SEND_ID = 1;
  private static final long RECV_ID = 2;

  @Mixin
  TransportOptions transport;

  @Mixin
  FabricOptions fabric;

  @Option(names = {"-n", "--iterations"}, defaultValue = "10000",
      description = "Round trips measured (default ${DEFAULT-VALUE}).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Round trips run first and not recorded (default ${DEFAULT-VALUE}).")
  long warmup;

  @Override
  void run(PrintWriter out) throws Exception {
    transport.check(this);
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    PerftestSetup.Role role = fabric.role(spec);
    CompletionWaiter clientWaiter = new CompletionWaiter(transport.events);
    CompletionWaiter serverWaiter = new CompletionWaiter(transport.events);
    PerftestSetup.Spec spec = new PerftestSetup.Spec(1, transport.size, transport.txDepth, transport.txDepth,
        transport.inlineSize, true, clientWaiter.handler(), serverWaiter.handler());
    Histogram rtt = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
    long[] minMax = {Long.MAX_VALUE, 0};
    PerftestOutput.Table table = new PerftestOutput.Table(out, json, OneSidedLatCommand.HEADER,
        OneSidedLatCommand.KEYS, true);
    try (PerftestSetup setup = PerftestSetup.create(spec, role, "send_lat", fabric.addressOf(role, this.spec),
        this.spec.commandLine().getErr())) {
      header(setup, "send_lat", transport.txDepth, 0, transport.inlineSize);
      if (role == PerftestSetup.Role.SERVER) {
        serveRemote(setup, serverWaiter);
        setup.awaitClientResult().forEach(table::row);
      } else {
        long measured = runPingPong(setup, clientWaiter, serverWaiter, rtt, minMax, control(transport.duration, true));
        List<PerftestOutput> rows = measured == 0 ? List.of()
            : List.of(OneSidedLatCommand.row("send_lat", transport.size, measured, rtt, minMax[0], minMax[1], 2));
        rows.forEach(table::row);
        setup.handOver(rows);
      }
    }
    table.end();
  }

  /** The server's end across JVMs: answers every receive until the client's result or disconnect. */
  private void serveRemote(PerftestSetup s, CompletionWaiter serverWaiter) {
    int flags = SendFlags.SIGNALED | transport.inlineFlag();
    Server server = new Server(s, serverWaiter, null, Long.MAX_VALUE, transport.txDepth, flags);
    for (int k = 0; k < transport.txDepth; k++) {
      post(() -> s.serverQps[0].postRecv(server.recv), "server postRecv");
    }
    try {
      server.serve();
    } catch (PostException e) {
      throw new PerftestException("send_lat: server post refused: " + e.getMessage(), e);
    }
  }

  /**
   * The round trips, warm-up first; returns how many were measured: {@code -n}, or fewer when the
   * {@link RunControl} ended the run ({@code -D}, a stop).
   */
  private long runPingPong(PerftestSetup s, CompletionWaiter clientWaiter, CompletionWaiter serverWaiter,
      Histogram rtt, long[] minMax, RunControl control) throws Exception {
    int depth = transport.txDepth;
    int flags = SendFlags.SIGNALED | transport.inlineFlag();
    long total = control.timed() ? Long.MAX_VALUE : warmup + iterations;
    long measured = 0;
    QueuePair client = s.clientQps[0];
    SendWr ping = SendWr.send(SEND_ID, flags, PerftestSetup.sges(s.clientMrs[0], transport.size));
    RecvWr clientRecv = RecvWr.of(RECV_ID, PerftestSetup.sges(s.clientMrs[0], transport.size));
    // Across JVMs (a client) the server end runs in the other JVM.
    Server server = s.serverQps == null ? null : new Server(s, serverWaiter, clientWaiter, total, depth, flags);
    for (int k = 0; k < depth; k++) {
      post(() -> client.postRecv(clientRecv), "client postRecv");
      if (server != null) {
        post(() -> s.serverQps[0].postRecv(server.recv), "server postRecv");
      }
    }
    Thread serverThread = new Thread(server == null ? () -> { } : server, "perftest-send_lat-server");
    serverThread.setDaemon(true);
    serverThread.start();
    try {
      clientWaiter.bind();
      Client c = new Client(s, clientWaiter, server, clientRecv);
      control.warmup(System.nanoTime());
      for (long i = 0; i < total; i++) {
        while (c.sendsOut >= depth) {
          c.poll();
        }
        long t0 = System.nanoTime();
        if (i == warmup) {
          control.phase(transport.size + " B", t0);
        }
        if (control.over(t0)) {
          if (server != null) {
            server.endAfter(i); // it has answered the i pings so far
          }
          break;
        }
        client.postSend(ping);
        c.sendsOut++;
        while (c.pongs <= i) {
          c.poll();
        }
        if (i >= warmup) {
          long ns = c.pongTime - t0;
          rtt.recordValue(ns);
          minMax[0] = Math.min(minMax[0], ns);
          minMax[1] = Math.max(minMax[1], ns);
          measured++;
          control.progress(c.pongTime, measured, total - warmup);
        }
      }
      // The last sends' completions, then the server's end.
      while (c.sendsOut > 0) {
        c.poll();
      }
      serverThread.join(TimeUnit.SECONDS.toMillis(60));
      if (server != null) {
        server.check();
      }
      if (serverThread.isAlive()) {
        throw new PerftestException("send_lat: the server thread did not finish");
      }
      return measured;
    } catch (PostException e) {
      throw new PerftestException("send_lat: client post refused: " + e.getMessage(), e);
    } finally {
      if (server != null) {
        server.stop = true;
        serverWaiter.onCompletion(null);
      }
    }
  }

  /** The client side's polling state; the command's thread only. */
  private static final class Client {
    private final PerftestSetup s;
    private final CompletionWaiter waiter;
    private final Server server;
    private final RecvWr recv;
    private final WorkCompletion[] wcs = new WorkCompletion[CompletionQueue.POLL_BATCH];
    int sendsOut;
    long pongs;
    /** When the last answer's receive completion was polled. */
    long pongTime;

    Client(PerftestSetup s, CompletionWaiter waiter, Server server, RecvWr recv) {
      this.s = s;
      this.waiter = waiter;
      this.server = server;
      this.recv = recv;
    }

    /** One poll round of the client CQ (or a back-off / event wait if it was empty). */
    void poll() {
      int n = s.clientCq.poll(wcs);
      if (n == 0) {
        if (server != null) {
          server.check();
        }
        waiter.idle("send_lat client", s.clientCq);
        return;
      }
      waiter.progressed();
      for (int k = 0; k < n; k++) {
        WorkCompletion wc = wcs[k];
        wcs[k] = null;
        if (!wc.ok()) {
          throw PerftestException.failed("send_lat client CQ", wc);
        }
        if (wc.wrId() == RECV_ID) {
          pongTime = System.nanoTime();
          pongs++;
          s.clientQps[0].postRecv(recv);
        } else {
          sendsOut--;
        }
      }
    }
  }

  private static void post(Runnable post, String what) {
    try {
      post.run();
    } catch (PostException e) {
      throw new PerftestException("send_lat: " + what + " refused: " + e.getMessage(), e);
    }
  }

  /** The server side: a plain thread that answers every receive with a send. */
  private final class Server implements Runnable {
    final RecvWr recv;
    private final PerftestSetup s;
    private final CompletionWaiter waiter;
    private final CompletionWaiter clientWaiter;
    /** Pings to answer; lowered by {@link #endAfter} when the client ends early (the server's thread reads it). */
    private volatile long total;
    private final int depth;
    private final SendWr pong;
    volatile boolean stop;
    private volatile Throwable failure;

    Server(PerftestSetup s, CompletionWaiter waiter, CompletionWaiter clientWaiter, long total, int depth,
        int flags) {
      this.s = s;
      this.waiter = waiter;
      this.clientWaiter = clientWaiter;
      this.total = total;
      this.depth = depth;
      this.recv = RecvWr.of(RECV_ID, PerftestSetup.sges(s.serverMrs[0], transport.size));
      this.pong = SendWr.send(SEND_ID, flags, PerftestSetup.sges(s.serverMrs[0], transport.size));
    }

    @Override
    public void run() {
      try {
        serve();
      } catch (Throwable e) {
        failure = e;
        if (clientWaiter != null) {
          clientWaiter.onCompletion(null); // wake the client if it sleeps on events
        }
      }
    }

    private void serve() {
      waiter.bind();
      QueuePair qp = s.serverQps[0];
      WorkCompletion[] wcs = new WorkCompletion[CompletionQueue.POLL_BATCH];
      long received = 0;
      long pending = 0;
      int sendsOut = 0;
      while (!stop && (received < total || pending > 0 || sendsOut > 0)) {
        int n = s.serverCq.poll(wcs);
        if (n == 0) {
          if (s.clientDone()) {
            return; // across JVMs: the client's result arrived, its run is over
          }
          waiter.idle("send_lat server", s.serverCq);
          continue;
        }
        waiter.progressed();
        int newRecvs = 0;
        for (int k = 0; k < n; k++) {
          WorkCompletion wc = wcs[k];
          wcs[k] = null;
          if (!wc.ok()) {
            if (s.clientGone(wc)) {
              return;
            }
            throw PerftestException.failed("send_lat server CQ", wc);
          }
          if (wc.wrId() == RECV_ID) {
            received++;
            pending++;
            newRecvs++;
          } else {
            sendsOut--;
          }
        }
        // Answer first, re-post the receives after: the answer is what the client waits for.
        while (pending > 0 && sendsOut < depth) {
          qp.postSend(pong);
          sendsOut++;
          pending--;
        }
        for (int k = 0; k < newRecvs; k++) {
          qp.postRecv(recv);
        }
      }
    }

    /** The client sends no ping after the {@code pings} it has sent: the server ends once it answered them. */
    void endAfter(long pings) {
      total = pings;
      waiter.onCompletion(null); // in -e mode it may be parked waiting for a completion that will not come
    }

    /** Throws what failed the server thread, if anything did. */
    void check() {
      Throwable f = failure;
      if (f instanceof PerftestException pe) {
        throw new PerftestException(pe.getMessage(), pe);
      } else if (f instanceof PostException pe) {
        throw new PerftestException("send_lat: server post refused: " + pe.getMessage(), pe);
      } else if (f != null) {
        throw new PerftestException("send_lat server thread failed: " + f, f);
      }
    }
  }
}
