package dev.midlayer.cli.perftest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.CompletableFuture;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.Props;

/**
 * Raw Artery messaging between two JVMs, the anchor the cluster driver's perftests are read against: the same
 * sizes and window, with nothing of midlayer on the path. Messages are plain {@code byte[]} (Pekko's
 * ByteArraySerializer, which writes the bytes straight into Artery's envelope buffer), acknowledgements
 * {@code Long}s, commands {@code String}s: the serializers Pekko binds for them out of the box.
 *
 * <p>bw: the client keeps at most {@code window} messages in flight; the server acknowledges every
 * {@code window / 2} (at least every one), as credits would. lat: the server echoes each message; a round trip
 * is one message each way.
 */
final class ArteryAnchor {
  /** The actor system's name on both sides (it is part of the remote address). */
  static final String SYSTEM = "midlayer";
  /** The server actor's name: {@code pekko://midlayer@host:port/user/perftest-anchor}. */
  static final String SERVER = "perftest-anchor";

  private ArteryAnchor() {}

  /**
   * An Artery TCP node on {@code host:port}: the cluster provider as the cluster driver's nodes have, never
   * joined (plain remote messaging), no Java serialization.
   */
  static Config config(String host, int port) {
    return ConfigFactory.parseString(
        "pekko.actor.provider = cluster\n"
            + "pekko.cluster.jmx.enabled = off\n"
            + "pekko.actor.allow-java-serialization = off\n"
            + "pekko.remote.artery.transport = tcp\n"
            + "pekko.remote.artery.canonical.hostname = \"" + host + "\"\n"
            + "pekko.remote.artery.canonical.port = " + port + "\n"
            + "pekko.loglevel = WARNING\n")
        .withFallback(ConfigFactory.load());
  }

  /** The server: echoes (lat) or acknowledges (bw) until the client says {@code done}, then stops its system. */
  static final class Server extends AbstractActor {
    private final CompletableFuture<Void> finished;
    private boolean echo;
    private long count;
    private long ackEvery = 1;

    Server(CompletableFuture<Void> finished) {
      this.finished = finished;
    }

    static Props props(CompletableFuture<Void> finished) {
      return Props.create(Server.class, () -> new Server(finished));
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .match(byte[].class, this::onMessage)
          .match(String.class, this::onCommand)
          .build();
    }

    private void onMessage(byte[] m) {
      if (echo) {
        getSender().tell(m, getSelf());
        return;
      }
      if (++count % ackEvery == 0) {
        getSender().tell(count, getSelf());
      }
    }

    private void onCommand(String c) {
      String[] words = c.split(" ");
      switch (words[0]) {
        case "lat" -> echo = true;
        case "bw" -> {
          echo = false;
          count = 0;
          ackEvery = Math.max(1, Long.parseLong(words[1]) / 2);
        }
        case "end" -> getSender().tell(count, getSelf());
        case "done" -> {
          getSender().tell("bye", getSelf());
          finished.complete(null);
        }
        default -> { }
      }
    }
  }

  /** The result of a bw round: messages, and nanoseconds from the first send to the last acknowledgement. */
  record BwResult(long messages, long nanos) {}

  /** The bw client: {@code rounds} rounds of {@code n} messages (the first {@code warmup} ones not timed). */
  static final class BwClient extends AbstractActor {
    private final ActorRef server;
    private final byte[] payload;
    private final long warmup;
    private final long total;
    private final int window;
    private final CompletableFuture<BwResult> result;
    private long roundSize;
    private boolean measuring;
    private long sent;
    private long acked;
    private long start;

    BwClient(ActorRef server, int size, long warmup, long total, int window, CompletableFuture<BwResult> result) {
      this.server = server;
      this.payload = new byte[size];
      this.warmup = warmup;
      this.total = total;
      this.window = window;
      this.result = result;
    }

    static Props props(ActorRef server, int size, long warmup, long total, int window,
        CompletableFuture<BwResult> result) {
      return Props.create(BwClient.class, () -> new BwClient(server, size, warmup, total, window, result));
    }

    @Override
    public void preStart() {
      round(warmup > 0 ? warmup : total, warmup == 0);
    }

    private void round(long n, boolean measured) {
      roundSize = n;
      measuring = measured;
      sent = 0;
      acked = 0;
      server.tell("bw " + window, getSelf());
      start = System.nanoTime();
      fill();
    }

    private void fill() {
      while (sent < roundSize && sent - acked < window) {
        server.tell(payload, getSelf());
        sent++;
      }
      if (sent == roundSize) {
        server.tell("end", getSelf());
      }
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder().match(Long.class, this::onAck).build();
    }

    private void onAck(Long count) {
      if (count <= acked) {
        return;
      }
      acked = count;
      if (acked == roundSize) {
        long nanos = System.nanoTime() - start;
        if (measuring) {
          server.tell("done", getSelf());
          result.complete(new BwResult(roundSize, nanos));
        } else {
          round(total, true);
        }
        return;
      }
      if (sent < roundSize) {
        fill();
      }
    }
  }

  /** The lat client: ping-pong of one message; round trips after {@code warmup} go into {@code rtt}. */
  static final class LatClient extends AbstractActor {
    private final ActorRef server;
    private final byte[] payload;
    private final long warmup;
    private final long total;
    private final Histogram rtt;
    private final long[] minMax;
    private final CompletableFuture<Void> done;
    private long round;
    private long sentAt;

    LatClient(ActorRef server, int size, long warmup, long iterations, Histogram rtt, long[] minMax,
        CompletableFuture<Void> done) {
      this.server = server;
      this.payload = new byte[size];
      this.warmup = warmup;
      this.total = warmup + iterations;
      this.rtt = rtt;
      this.minMax = minMax;
      this.done = done;
    }

    static Props props(ActorRef server, int size, long warmup, long iterations, Histogram rtt, long[] minMax,
        CompletableFuture<Void> done) {
      return Props.create(LatClient.class,
          () -> new LatClient(server, size, warmup, iterations, rtt, minMax, done));
    }

    @Override
    public void preStart() {
      server.tell("lat", getSelf());
      ping();
    }

    private void ping() {
      sentAt = System.nanoTime();
      server.tell(payload, getSelf());
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder().match(byte[].class, m -> onEcho()).build();
    }

    private void onEcho() {
      long t = System.nanoTime() - sentAt;
      if (round++ >= warmup) {
        rtt.recordValue(Math.max(1, t));
        minMax[0] = Math.min(minMax[0], t);
        minMax[1] = Math.max(minMax[1], t);
      }
      if (round < total) {
        ping();
      } else {
        server.tell("done", getSelf());
        done.complete(null);
      }
    }
  }
}
