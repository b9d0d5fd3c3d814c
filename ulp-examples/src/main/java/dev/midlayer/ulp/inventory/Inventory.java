package dev.midlayer.ulp.inventory;

import dev.midlayer.client.ClientMessage;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A template client written as a typed actor: it keeps an inventory of devices and their port counts.
 * Register it with {@code Midlayer.registerClient("inventory", Inventory.create(report))}; the midlayer
 * spawns it on its client dispatcher.
 *
 * <p>The protocol: reply to {@link ClientMessage.DeviceAdded} with {@code AddReply.added()} when the
 * device is in use (or {@code declined(reason)} to skip it), and to {@link ClientMessage.DeviceRemoved}
 * with {@code Done} once everything held on the device is released. The midlayer waits for each reply
 * before the next callback of any client.
 */
public final class Inventory {
  private Inventory() {}

  /**
   * The client's behavior, with no device yet. Never blocks; any thread (the midlayer spawns the actor, whose
   * turns run on its client dispatcher).
   *
   * @param report receives one line per callback; called on the client's actor, must not block long
   */
  public static Behavior<ClientMessage> create(Consumer<String> report) {
    return counting(0, report);
  }

  private static Behavior<ClientMessage> counting(int devices, Consumer<String> report) {
    return Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, m -> {
          int ports = m.device().portCount();
          report.accept(m.client().name() + ": add " + m.device().name() + " (" + ports + " port(s)), "
              + (devices + 1) + " device(s) in inventory");
          m.replyTo().tell(ClientMessage.AddReply.added());
          return counting(devices + 1, report);
        })
        .onMessage(ClientMessage.DeviceRemoved.class, m -> {
          report.accept(m.client().name() + ": remove " + m.device().name() + ", "
              + (devices - 1) + " device(s) in inventory");
          m.replyTo().tell(Done.getInstance());
          return counting(devices - 1, report);
        })
        .build();
  }
}
