package dev.midlayer.cli.perftest;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.io.PrintWriter;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code midlayer perftest write_lat}: {@code ib_write_lat} on the loopback fabric (or across JVMs with --fabric cluster).
 *
 * <p>How it measures: one RC QP pair; each side has one MR (registered for remote write) of two halves: it sends from the first and the peer writes into the second. Ping-pong by RDMA WRITE:
 * in round {@code i} the client (the command's thread) puts {@code (byte) (i + 1)} into the last byte of its
 * source buffer, takes {@link System#nanoTime}, posts a WRITE of {@code -s} bytes to the server's MR and
 * polls the last byte of its own MR until the server's WRITE brings the same value back. The server, a plain
 * Java thread, polls the last byte of its MR for that value and answers with a WRITE of its own. No receives,
 * no completions on the critical path: every 16th WRITE (capped at {@code -t}) is signaled only to free
 * the send queue. Half of each round trip is reported, after {@code --warmup} unrecorded rounds. Memory is
 * polled, so there is no event mode ({@code -e} is refused), as in perftest.
 */
@Command(name = "write_lat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"RDMA WRITE latency test (ib_write_lat): ping-pong by WRITE over one RC QP pair on the loopback "
        + "fabric; each side detects arrival by polling the last byte of its target buffer.",
        "Columns: #bytes #iterations t_min t_max t_typical (median) t_avg t_stdev 99%% 99.9%% percentile,",
        "all half round trips in usec."})
final class WriteLatCommand extends PerftestCommandBase {
  private static final int MOD = 16;

  @Mixin
  TransportOptions transport;

  @Mixin
  FabricOptions fabric;

  @Mixin
  ConnectionTypeOption connection;

  @Option(names = {"-n", "--iterations"}, defaultValue = "10000",
      description = "Round trips measured (default ${DEFAULT-VALUE}; scaled down per size with -a).")
  long iterations;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Round trips run first and not recorded (default ${DEFAULT-VALUE}; with -a at most the size's "
          + "iterations).")
  long warmup;

  @Option(names = {"-a", "--all"}, description = OneSidedSizes.SWEEP_HELP)
  boolean all;

  @Override
  void run(PrintWriter out) throws Exception {
    transport.check(this);
    require(!transport.events, "write_lat polls memory: -e (events) is not supported");
    // Both ends count the rounds of every size (a server across JVMs is told them up front), so a run cannot end
    // by time; and a stop would leave the server end waiting for WRITEs: Ctrl-C ends the JVM as usual.
    require(transport.duration == 0, "write_lat runs a round count both ends agree on: --duration is not supported");
    bound("--iterations", iterations, 1, Long.MAX_VALUE);
    bound("--warmup", warmup, 0, Long.MAX_VALUE);
    int[] sizes = OneSidedSizes.sizes(all, transport.size, false);
    int maxSize = sizes[sizes.length - 1];
    PerftestSetup.Role role = fabric.role(spec);
    QpType type = connection.type(this);
    PerftestSetup.Spec spec = new PerftestSetup.Spec(1, maxSize, transport.txDepth, 1, transport.inlineSize, false,
        null, null, 2 * maxSize, PerftestSetup.REMOTE_ACCESS).withType(type);
    int half = maxSize;
    List<PerftestOutput> rows = new ArrayList<>();
    PerftestOutput.Table table = new PerftestOutput.Table(out, json, OneSidedLatCommand.HEADER,
        OneSidedLatCommand.KEYS, true);
    // The rounds of every size, which both ends must agree on: a server across JVMs answers as many.
    StringBuilder shape = new StringBuilder("write_lat");
    for (int size : sizes) {
      shape.append(' ').append(size).append('x').append(rounds(size));
    }
    // Every size's arrival byte starts at 0, before the peer can write: a WRITE of a size never reaches the
    // arrival byte of a larger one, so none is reset while a WRITE may be on its way.
    java.util.function.Consumer<ByteBuffer> zeroArrivals = buffer -> {
      for (int size : sizes) {
        buffer.put(half + size - 1, (byte) 0);
      }
    };
    try (PerftestSetup s = PerftestSetup.create(spec, role, shape.toString(), fabric.addressOf(role, this.spec),
        this.spec.commandLine().getErr(), zeroArrivals)) {
      header(s, "write_lat", transport.txDepth, 0, transport.inlineSize);
      if (role == PerftestSetup.Role.SERVER) {
        for (int size : sizes) {
          Side server = new Side("write_lat server", s.serverQps[0], s.serverCq, s.serverMrs[0],
              s.clientMrsRemote[0], size, half, rounds(size));
          server.clientMayLeave = s::clientGone;
          server.serve();
          server.check();
        }
        s.awaitClientResult().forEach(table::row);
      } else {
        for (int size : sizes) {
          long n = OneSidedSizes.iterations(all, iterations, size, OneSidedSizes.LAT_BUDGET,
              OneSidedSizes.LAT_FLOOR);
          PerftestOutput row = runSize(s, size, n, rounds(size) - n, half);
          table.row(row); // as each size finishes
          rows.add(row);
        }
        s.handOver(rows);
      }
    }
    table.end();
  }

  /** Round trips of one size, warm-up included. */
  private long rounds(int size) {
    long n = OneSidedSizes.iterations(all, iterations, size, OneSidedSizes.LAT_BUDGET, OneSidedSizes.LAT_FLOOR);
    return n + (all ? Math.min(warmup, n) : warmup);
  }

  private PerftestOutput runSize(PerftestSetup s, int size, long n, long w, int half) throws Exception {
    long total = w + n;
    Side client = new Side("write_lat client", s.clientQps[0], s.clientCq, s.clientMrs[0], s.serverMrsRemote[0],
        size, half, total);
    // Across JVMs (a client) the server end runs in the other JVM.
    Side server = s.serverQps == null ? null : new Side("write_lat server", s.serverQps[0], s.serverCq,
        s.serverMrs[0], s.clientMrsRemote[0], size, half, total);
    Thread serverThread = new Thread(server == null ? () -> { } : server::serve, "perftest-write_lat-server");
    serverThread.setDaemon(true);
    serverThread.start();
    Histogram rtt = new Histogram(1, TimeUnit.SECONDS.toNanos(60), 3);
    long min = Long.MAX_VALUE;
    long max = 0;
    try {
      for (long i = 0; i < total; i++) {
        byte v = (byte) (i + 1);
        client.source.put(size - 1, v);
        long t0 = System.nanoTime();
        client.post(i);
        client.await(v, server);
        long ns = System.nanoTime() - t0;
        if (i >= w) {
          rtt.recordValue(ns);
          min = Math.min(min, ns);
          max = Math.max(max, ns);
        }
      }
      client.drain();
      serverThread.join(TimeUnit.SECONDS.toMillis(60));
      if (server != null) {
        server.check();
      }
      if (serverThread.isAlive()) {
        throw new PerftestException("write_lat: the server thread did not finish");
      }
    } finally {
      if (server != null) {
        server.stop = true;
      }
    }
    return OneSidedLatCommand.row("write_lat", size, n, rtt, min, max, 2);
  }

  /** One side of the ping-pong: posts WRITEs to the peer's MR, polls the last byte of its own. */
  private final class Side {
    final ByteBuffer source;
    private final String what;
    private final QueuePair qp;
    private final CompletionQueue cq;
    private final ByteBuffer target;
    private final int last;
    private final int arrival;
    private final long total;
    private final int mod = Math.min(MOD, transport.txDepth);
    private final SendWr unsignaled;
    private final SendWr signaled;
    private final CompletionWaiter waiter = new CompletionWaiter(false);
    private final WorkCompletion[] wcs = new WorkCompletion[CompletionQueue.POLL_BATCH];
    private long posted;
    private long done;
    volatile boolean stop;
    private volatile Throwable failure;
    /**
     * A server across JVMs: true for a flush of its last WRITEs once every answer was posted. The client saw the
     * last answer's data arrive and disconnected; its DREQ (on the CM's path) may overtake the ACK of that WRITE
     * (on the transport's), which then flushes. The run is complete: nothing is lost that was measured.
     */
    java.util.function.Predicate<WorkCompletion> clientMayLeave = wc -> false;
    private boolean draining;

    Side(String what, QueuePair qp, CompletionQueue cq, MemoryRegion local, PerftestSetup.RemoteMr remote,
        int size, int half, long total) {
      this.what = what;
      this.qp = qp;
      this.cq = cq;
      this.source = local.buffer();
      this.target = local.buffer();
      this.last = size - 1;
      this.arrival = half + size - 1;
      this.total = total;
      int flags = transport.inlineFlag(size);
      unsignaled = SendWr.builder(WrOpcode.RDMA_WRITE).wrId(0).flags(flags).sge(Sge.of(local, 0, size))
          .remote(remote.iova() + half, remote.rkey()).build();
      signaled = SendWr.builder(WrOpcode.RDMA_WRITE).wrId(0).flags(flags | SendFlags.SIGNALED)
          .sge(Sge.of(local, 0, size)).remote(remote.iova() + half, remote.rkey()).build();
    }

    /** The server thread: answers every arrival with a WRITE carrying the same value. */
    void serve() {
      try {
        for (long i = 0; i < total; i++) {
          byte v = (byte) (i + 1);
          await(v, null);
          source.put(last, v);
          post(i);
        }
        drain();
      } catch (Throwable e) {
        failure = e;
      }
    }

    /** Posts round {@code i}'s WRITE; every {@code mod}-th and the last are signaled; keeps the SQ from filling. */
    void post(long i) {
      while (posted - done >= transport.txDepth) {
        pollOnce();
      }
      boolean signal = (i + 1) % mod == 0 || i + 1 == total;
      try {
        qp.postSend(signal ? signaled : unsignaled);
      } catch (PostException e) {
        throw new PerftestException(what + ": postSend refused: " + e.getMessage(), e);
      }
      posted++;
    }

    /** Spins on the last byte of the target buffer until it holds {@code v}. */
    void await(byte v, Side peer) {
      waiter.bind();
      while (true) {
        VarHandle.acquireFence(); // the driver's actor writes the buffer: read it anew every round
        if (target.get(arrival) == v) {
          waiter.progressed();
          return;
        }
        if (stop) {
          throw new PerftestException(what + ": stopped");
        }
        if (peer != null) {
          peer.check();
        }
        waiter.idle(what, cq);
      }
    }

    /** Waits until every posted WRITE completed. */
    void drain() {
      draining = true;
      while (done < posted) {
        pollOnce();
      }
    }

    private void pollOnce() {
      int n = cq.poll(wcs);
      if (n == 0) {
        waiter.idle(what, cq);
        return;
      }
      waiter.progressed();
      for (int k = 0; k < n; k++) {
        WorkCompletion wc = wcs[k];
        wcs[k] = null;
        if (!wc.ok()) {
          if (draining && clientMayLeave.test(wc)) {
            done = posted;
            return;
          }
          throw PerftestException.failed(what + " CQ", wc);
        }
        // Completions come in order: this one is the next signaled WRITE's, every earlier one completed too.
        done = Math.min(posted, (done / mod + 1) * mod);
      }
    }

    void check() {
      Throwable f = failure;
      if (f instanceof PerftestException pe) {
        throw new PerftestException(pe.getMessage(), pe);
      } else if (f != null) {
        throw new PerftestException(what + " thread failed: " + f, f);
      }
    }
  }
}
