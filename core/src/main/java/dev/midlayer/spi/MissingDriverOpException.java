package dev.midlayer.spi;

import dev.midlayer.ib.MidlayerException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A device was refused because its driver's ops table lacks mandatory ops; the message names them.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public final class MissingDriverOpException extends MidlayerException {
  private static final long serialVersionUID = 1L;
  private final transient List<DriverOp> missing;

  /** The refusal of driver {@code driverName}'s table, which lacks the ops {@code missing} (copied). */
  public MissingDriverOpException(String driverName, List<DriverOp> missing) {
    super("driver '" + driverName + "' lacks mandatory op"
        + (missing.size() > 1 ? "s " : " ")
        + missing.stream().map(DriverOp::kernelName).collect(Collectors.joining(", ")));
    this.missing = List.copyOf(missing);
  }

  /** The mandatory ops that were missing. */
  public List<DriverOp> missing() {
    return missing;
  }
}
