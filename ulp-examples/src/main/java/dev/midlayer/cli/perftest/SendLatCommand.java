package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.util.ArrayList;
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

  @Mixin
  ConnectionTypeOption connection;

  @Option(names = {"-n", "--iterations"}, defaultValue = "10000",
      description = "Round trips measured (default ${DEFAULT-VALUE}).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Round trips run first and not recorded (default ${DEFAULT-VALUE}).")
  long warmup;

  @Option(names = {"-a", "--all"}, description = "Sweep message sizes 2 B .. 8 MiB in powers of two, one result "
      + "line per size as it finishes; round trips and warm-up per size are min(-n, max(16, 128 MiB / size)) "
      + "(the server must be given -a too).")
  boolean all;

  @Override
  void run(PrintWriter out) throws Exception {
    transport.check(this);
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    PerftestSetup.Role role = fabric.role(spec);
    CompletionWaiter clientWaiter = new CompletionWaiter(transport.events);
    CompletionWaiter serverWaiter = new CompletionWaiter(transport.events);
    int[] sizes = OneSidedSizes.sizes(all, transport.size, false);
    int maxSize = sizes[sizes.length - 1];
    QpType type = connection.type(this);
    PerftestSetup.Spec spec = new PerftestSetup.Spec(1, maxSize, transport.txDepth, transport.txDepth,
        transport.inlineSize, true, clientWaiter.handler(), serverWaiter.handler()).withType(type);
    PerftestOutput.Table table = new PerftestOutput.Table(out, json, OneSidedLatCommand.HEADER,
        OneSidedLatCommand.KEYS, true);
    // A sweep's receives take 8 MiB: both ends must agree on it, as on the test.
    try (PerftestSetup setup = PerftestSetup.create(spec, role, all ? "send_lat -a" : "send_lat",
        fabric.addressOf(role, this.spec), this.spec.commandLine().getErr())) {
      header(setup, "send_lat", transport.txDepth, 0, transport.inlineSize);
      if (role == PerftestSetup.Role.SERVER) {
        serveRemote(setup, serverWaiter, maxSize);
        setup.awaitClientResult().forEach(table::row);
      } else {
        setup.handOver(runPingPong(setup, clientWaiter, serverWaiter, sizes, control(transport.duration, true),
            table));
      }
    }
    table.end();
  }

  /** The server's end across JVMs: answers every receive until the client's result or disconnect. */
  private void serveRemote(PerftestSetup s, CompletionWaiter serverWaiter, int maxSize) {
    Server server = new Server(s, serverWaiter, null, Long.MAX_VALUE, transport.txDepth, maxSize);
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
   * The round trips of each size, warm-up first, each size's row printed to {@code table} as it finishes;
   * returns the rows. A size measures {@code -n} round trips, or fewer when the {@link RunControl} ends the run
   * ({@code -D}, a stop); after a stop no size runs.
   */
  private List<PerftestOutput> runPingPong(PerftestSetup s, CompletionWaiter clientWaiter,
      CompletionWaiter serverWaiter, int[] sizes, RunControl control, PerftestOutput.Table table) throws Exception {
    int depth = transport.txDepth;
    int maxSize = sizes[sizes.length - 1];
    long[] rounds = new long[sizes.length];
    long[] warm = new long[sizes.length];
    long total = 0;
    for (int k = 0; k < sizes.length; k++) {
      rounds[k] = control.timed() ? Long.MAX_VALUE - warmup
          : OneSidedSizes.iterations(all, iterations, sizes[k], OneSidedSizes.LAT_BUDGET, OneSidedSizes.LAT_FLOOR);
      warm[k] = all ? Math.min(warmup, rounds[k]) : warmup;
      total = control.timed() ? Long.MAX_VALUE : total + warm[k] + rounds[k];
    }
    QueuePair client = s.clientQps[0];
    RecvWr clientRecv = RecvWr.of(RECV_ID, PerftestSetup.sges(s.clientMrs[0], maxSize));
    // Across JVMs (a client) the server end runs in the other JVM.
    Server server = s.serverQps == null ? null : new Server(s, serverWaiter, clientWaiter, total, depth, maxSize);
    for (int k = 0; k < depth; k++) {
      post(() -> client.postRecv(clientRecv), "client postRecv");
      if (server != null) {
        post(() -> s.serverQps[0].postRecv(server.recv), "server postRecv");
      }
    }
    Thread serverThread = new Thread(server == null ? () -> { } : server, "perftest-send_lat-server");
    serverThread.setDaemon(true);
    serverThread.start();
    List<PerftestOutput> rows = new ArrayList<>();
    try {
      clientWaiter.bind();
      Client c = new Client(s, clientWaiter, server, clientRecv);
      long pings = 0;
      for (int k = 0; k < sizes.length && !control.stopping(); k++) {
        int size = sizes[k];
        SendWr ping = SendWr.send(SEND_ID, SendFlags.SIGNALED | transport.inlineFlag(size),
            PerftestSetup.sges(s.clientMrs[0], size));
        Histogram rtt = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
        long min = Long.MAX_VALUE;
        long max = 0;
        long measured = 0;
        c.size = size;
        control.warmup(System.nanoTime());
        for (long i = 0; i < warm[k] + rounds[k]; i++) {
          while (c.sendsOut >= depth) {
            c.poll();
          }
          long t0 = System.nanoTime();
          if (i == warm[k]) {
            control.phase(size + " B", t0);
          }
          if (control.over(t0)) {
            break;
          }
          client.postSend(ping);
          c.sendsOut++;
          pings++;
          while (c.pongs < pings) {
            c.poll();
          }
          if (i >= warm[k]) {
            long ns = c.pongTime - t0;
            rtt.recordValue(ns);
            min = Math.min(min, ns);
            max = Math.max(max, ns);
            measured++;
            control.progress(c.pongTime, measured, rounds[k]);
          }
        }
        if (measured > 0) {
          PerftestOutput row = OneSidedLatCommand.row("send_lat", size, measured, rtt, min, max, 2);
          control.clearProgress();
          table.row(row);
          rows.add(row);
        }
      }
      if (server != null && pings < total) {
        server.endAfter(pings); // it has answered every ping sent
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
      return rows;
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
    /** The size of the pings now, which each answer must have. */
    int size;

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
          if (wc.byteLen() != size) {
            throw new PerftestException("an answer of " + wc.byteLen() + " bytes to a ping of " + size);
          }
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
    /** The answer to a ping of {@link #pongSize} bytes: a sweep's pings grow, the answer matches each. */
    private SendWr pong;
    private int pongSize = -1;
    volatile boolean stop;
    private volatile Throwable failure;

    /** Receives of {@code recvSize} bytes (the largest ping); each answer is as long as its ping. */
    Server(PerftestSetup s, CompletionWaiter waiter, CompletionWaiter clientWaiter, long total, int depth,
        int recvSize) {
      this.s = s;
      this.waiter = waiter;
      this.clientWaiter = clientWaiter;
      this.total = total;
      this.depth = depth;
      this.recv = RecvWr.of(RECV_ID, PerftestSetup.sges(s.serverMrs[0], recvSize));
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
            answerSize(wc.byteLen()); // one ping in flight at a time: the answers to send are of this size
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

    /** Makes {@link #pong} a send of {@code size} bytes (a new WR only when the size changes). */
    private void answerSize(int size) {
      if (size != pongSize) {
        pongSize = size;
        pong = SendWr.send(SEND_ID, SendFlags.SIGNALED | transport.inlineFlag(size),
            PerftestSetup.sges(s.serverMrs[0], size));
      }
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
