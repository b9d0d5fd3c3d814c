package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceResourceInfo;
import dev.midlayer.ib.TransportCounters;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Props;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * What {@code midlayer stat} and {@code midlayer res} ask a running node: a classic actor at
 * {@code /system/midlayer-admin} on every node the command line starts, answering a request string with the
 * text to print, as iproute2's {@code rdma statistic} and {@code rdma res} print theirs. Requests and answers are
 * strings, which Artery's built-in serializer carries (no Java serialization). It only reads: the counters (lock
 * free) and each device's object list ({@code Device.listResources}, answered by the device actor).
 *
 * <ul>
 *   <li>{@code stat}: one line per port, {@code link DEV/PORT} and every counter by its {@code rdma statistic}
 *       name;
 *   <li>{@code stat qp}: one line per queue pair, as {@code rdma statistic qp show}: its port, number, type,
 *       state and owner, and its counters;
 *   <li>{@code res}: one line per device, {@code INDEX: DEV:} and how many of each kind of object it holds;
 *   <li>{@code res KIND} ({@code pd}, {@code mr}, {@code cq}, {@code qp}, {@code srq}, ...): one line per object
 *       of that kind, with the client that owns it ({@code comm}, as {@code rdma res} names the owner).
 * </ul>
 */
final class NodeAdmin extends AbstractActor {
  /** The actor's name under {@code /system}. */
  static final String NAME = "midlayer-admin";
  /** The kinds {@code res} counts, in the order {@code rdma res show} prints its own. */
  static final List<String> KINDS = List.of("pd", "cq", "qp", "srq", "mr", "fmr");

  /** How an answer that is an error starts. */
  static final String ERROR = "error: ";

  private final Midlayer midlayer;

  private NodeAdmin(Midlayer midlayer) {
    this.midlayer = midlayer;
  }

  /** Starts the node's admin actor. Never blocks; any thread; once per actor system. */
  static void start(ActorSystem<?> system) {
    Midlayer midlayer = Midlayer.get(system);
    ((ExtendedActorSystem) Adapter.toClassic(system)).systemActorOf(
        Props.create(NodeAdmin.class, () -> new NodeAdmin(midlayer)), NAME);
  }

  @Override
  public Receive createReceive() {
    return receiveBuilder().match(String.class, this::onRequest).build();
  }

  private void onRequest(String request) {
    ActorRef replyTo = getSender();
    String[] words = request.trim().split("\\s+");
    if (words[0].equals("stat") && words.length == 1) {
      replyTo.tell(stat(midlayer.devices()), getSelf());
    } else if (words[0].equals("stat") && words.length == 2 && words[1].equals("qp")) {
      replyWhenDone(statQp(midlayer.devices()), replyTo);
    } else if (words[0].equals("res") && words.length <= 2) {
      String kind = words.length == 2 ? words[1].toLowerCase(Locale.ROOT) : null;
      replyWhenDone(res(midlayer.devices(), kind), replyTo);
    } else {
      replyTo.tell(ERROR + "unknown request '" + request + "'\n", getSelf());
    }
  }

  /** Answers {@code replyTo} with the text once {@code answer} completes, or with the error it failed with. */
  private void replyWhenDone(CompletableFuture<String> answer, ActorRef replyTo) {
    ActorRef self = getSelf();
    answer.whenComplete((text, e) -> replyTo.tell(e == null ? text
        : ERROR + (e.getCause() != null ? e.getCause() : e).getMessage() + "\n", self));
  }

  /**
   * Throws what the node said went wrong, if {@code answer} is an error ({@code error: ...}); the command line
   * prints it as one line. Never blocks; any thread.
   */
  static void failIfError(String answer) {
    if (answer.startsWith(ERROR)) {
      throw new IllegalStateException(answer.substring(ERROR.length()).strip());
    }
  }

  /** {@code rdma statistic show}: every port's counters. Never blocks; any thread. */
  static String stat(List<Device> devices) {
    if (devices.isEmpty()) {
      return "No IB devices found\n";
    }
    StringBuilder b = new StringBuilder();
    for (Device d : devices) {
      for (int p = 1; p <= d.portCount(); p++) {
        b.append("link ").append(d.name()).append('/').append(p);
        appendCounters(b, d.portCounters(p));
        b.append('\n');
      }
    }
    return b.toString();
  }

  /**
   * {@code rdma statistic qp show}: every QP's counters, as each device actor lists its objects. Asks every
   * device actor ({@code Device.listResources}, a may-sleep verb): not from atomic context; the admin actor's
   * turn. It does not wait: the stage completes once every device actor has answered.
   */
  static CompletableFuture<String> statQp(List<Device> devices) {
    if (devices.isEmpty()) {
      return CompletableFuture.completedFuture("No IB devices found\n");
    }
    return listAll(devices).thenApply(lists -> {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < devices.size(); i++) {
        for (DeviceResourceInfo o : lists.get(i)) {
          if (o.qp() != null) {
            qpLine(b, devices.get(i), o);
            appendCounters(b, o.qp().counters());
            b.append('\n');
          }
        }
      }
      return b.toString();
    });
  }

  /** Each counter as {@code rdma statistic} prints it: {@code " name value"}. */
  private static void appendCounters(StringBuilder b, TransportCounters counters) {
    for (Map.Entry<String, Long> e : counters.asMap().entrySet()) {
      b.append(' ').append(e.getKey()).append(' ').append(e.getValue());
    }
  }

  /** {@code link DEV/PORT lqpn N type RC state RTS comm OWNER}, as {@code rdma res show qp} starts a line. */
  private static void qpLine(StringBuilder b, Device d, DeviceResourceInfo o) {
    b.append("link ").append(d.name()).append('/').append(o.qp().portNum()).append(" lqpn ").append(o.qp().qpNum())
        .append(" type ").append(o.qp().type()).append(" state ").append(o.qp().state()).append(" comm ")
        .append(owner(o));
  }

  private static String owner(DeviceResourceInfo o) {
    return o.owner() == null ? "[application]" : o.owner().name();
  }

  /** Every device's object list, once each device actor has answered. */
  private static CompletableFuture<List<List<DeviceResourceInfo>>> listAll(List<Device> devices) {
    List<CompletableFuture<List<DeviceResourceInfo>>> lists = new ArrayList<>();
    for (Device d : devices) {
      lists.add(d.listResources().toCompletableFuture());
    }
    return CompletableFuture.allOf(lists.toArray(CompletableFuture[]::new))
        .thenApply(all -> lists.stream().map(CompletableFuture::join).toList()); // complete: allOf
  }

  /**
   * {@code rdma res show}, or {@code rdma res show KIND} when {@code kind} is not null. Asks every device actor
   * ({@code Device.listResources}, a may-sleep verb): not from atomic context; the admin actor's turn. It does
   * not wait: the stage completes once every device actor has listed its objects.
   */
  static CompletableFuture<String> res(List<Device> devices, String kind) {
    if (devices.isEmpty()) {
      return CompletableFuture.completedFuture("No IB devices found\n");
    }
    return listAll(devices).thenApply(lists -> {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < devices.size(); i++) {
        Device d = devices.get(i);
        List<DeviceResourceInfo> objects = lists.get(i);
        if (kind == null) {
          Map<String, Integer> counts = new LinkedHashMap<>();
          KINDS.forEach(k -> counts.put(k, 0));
          for (DeviceResourceInfo o : objects) {
            counts.merge(o.kind().toLowerCase(Locale.ROOT), 1, Integer::sum);
          }
          b.append(d.index()).append(": ").append(d.name()).append(':');
          counts.forEach((k, n) -> b.append(' ').append(k).append(' ').append(n));
          b.append('\n');
        } else {
          for (DeviceResourceInfo o : objects) {
            if (!o.kind().equalsIgnoreCase(kind)) {
              continue;
            }
            if (o.qp() != null) {
              qpLine(b, d, o);
            } else {
              b.append("dev ").append(d.name()).append(' ').append(o.object()).append(" comm ").append(owner(o));
            }
            b.append('\n');
          }
        }
      }
      return b.toString();
    });
  }

}
