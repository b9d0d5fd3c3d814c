package dev.midlayer.drivers.cluster;

import com.typesafe.config.Config;
import dev.midlayer.ib.Mtu;
import java.time.Duration;
import java.util.List;

/**
 * The {@code midlayer.cluster} settings (see the module's {@code reference.conf}), checked against Artery's
 * limits. Immutable; any thread.
 *
 * @param frameSize most bytes of one frame as the serializer writes it
 * @param credits frames a node may have sent to one peer that the peer has not granted back yet
 * @param grantEvery the receiver grants credits back after this many frames of a peer
 * @param activeMtu the ports' active MTU (the path MTU cap of the wire's segmentation)
 * @param creditProbe how long a sender out of credits waits for a grant before it sends a sync frame
 * @param dispatcher config path of the dispatcher of the fabric's actors
 * @param largeLane true if the frames' recipient is listed in Artery's large-message-destinations
 * @param timerScale multiplies the engine's transport timers (1 is IB's time)
 * @param maxBatch most requests one engine turn hands the link before it flushes
 */
record ClusterSettings(int frameSize, int credits, int grantEvery, Mtu activeMtu, Duration creditProbe,
    String dispatcher, boolean largeLane, double timerScale, int maxBatch) {

  /** The name of every node's frame recipient, under /system: what large-message-destinations would list. */
  static final String DATA_ACTOR = "midlayer-cluster-data";
  /** Room in an Artery envelope for its own header (recipient, sender, manifest) next to our frame. */
  static final int ENVELOPE_SLACK = 4096;

  static ClusterSettings from(Config root) {
    Config c = root.getConfig("midlayer.cluster");
    int frameSize = (int) Math.min(Integer.MAX_VALUE, c.getBytes("frame-size"));
    int credits = c.getInt("credits");
    int grantEvery = c.getInt("grant-every");
    Mtu mtu = mtu(c.getInt("active-mtu"));
    Duration probe = c.getDuration("credit-probe-interval");
    String dispatcher = c.getString("dispatcher");
    Config artery = root.getConfig("pekko.remote.artery");
    List<String> large = artery.getStringList("large-message-destinations");
    boolean largeLane = large.contains("/system/" + DATA_ACTOR);
    long max = largeLane ? artery.getBytes("advanced.maximum-large-frame-size")
        : artery.getBytes("advanced.maximum-frame-size");
    long queue = largeLane ? artery.getInt("advanced.outbound-large-message-queue-size")
        : artery.getInt("advanced.outbound-message-queue-size");
    if (frameSize < mtu.bytes() + FrameCodec.MAX_UNIT_HEADER + FrameCodec.FRAME_HEADER) {
      throw new IllegalArgumentException("midlayer.cluster.frame-size " + frameSize
          + " must hold one segment of the active MTU " + mtu.bytes() + " and its headers");
    }
    if (frameSize + ENVELOPE_SLACK > max) {
      throw new IllegalArgumentException("midlayer.cluster.frame-size " + frameSize + " plus " + ENVELOPE_SLACK
          + " bytes of envelope must stay below Artery's " + (largeLane ? "maximum-large-frame-size " : "maximum-frame-size ")
          + max);
    }
    if (credits < 1 || credits >= queue) {
      throw new IllegalArgumentException("midlayer.cluster.credits " + credits
          + " must be at least 1 and below Artery's outbound queue size " + queue);
    }
    if (grantEvery < 1 || grantEvery > Math.max(1, credits / 2)) {
      throw new IllegalArgumentException("midlayer.cluster.grant-every " + grantEvery
          + " must be 1..credits/2, else a sender can run out of credits while frames sit ungranted");
    }
    if (probe.isNegative() || probe.isZero()) {
      throw new IllegalArgumentException("midlayer.cluster.credit-probe-interval must be positive");
    }
    double timerScale = c.getDouble("timer-scale");
    int maxBatch = c.getInt("max-batch");
    if (!(timerScale > 0) || maxBatch < 1) {
      throw new IllegalArgumentException("midlayer.cluster: timer-scale must be > 0 and max-batch >= 1");
    }
    return new ClusterSettings(frameSize, credits, grantEvery, mtu, probe, dispatcher, largeLane, timerScale,
        maxBatch);
  }

  private static Mtu mtu(int bytes) {
    for (Mtu m : Mtu.values()) {
      if (m.bytes() == bytes) {
        return m;
      }
    }
    throw new IllegalArgumentException("midlayer.cluster.active-mtu must be 256, 512, 1024, 2048 or 4096, was "
        + bytes);
  }
}
