package dev.midlayer.drivers.engine;

import dev.midlayer.drivers.fault.FaultPlan;
import java.util.function.Supplier;

/**
 * What a driver tells the engine of each of its QPs. Immutable; never blocks; any thread.
 *
 * @param timerScale multiplies every transport timer (ACK timeout, RNR wait, fault delays); 1 is IB's time
 * @param maxBatch the most requests the requester sends before the link is flushed in one turn
 * @param faultPlan the fault plan to apply to outgoing packets now, or null; read once per packet sent, so
 *     it must be cheap (a volatile read) and never block
 */
public record EngineSettings(double timerScale, int maxBatch, Supplier<FaultPlan> faultPlan) {
  /** Checks the timer scale is positive, the batch at least 1 and the fault plan supplier given. */
  public EngineSettings {
    if (!(timerScale > 0) || maxBatch < 1 || faultPlan == null) {
      throw new IllegalArgumentException("timerScale must be > 0, maxBatch >= 1 and faultPlan given");
    }
  }
}
