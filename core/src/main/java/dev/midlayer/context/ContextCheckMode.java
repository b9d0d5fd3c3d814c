package dev.midlayer.context;

/** What the midlayer does when a may-sleep verb is called from atomic context ({@code midlayer.context-check}). */
public enum ContextCheckMode {
  /** Throw {@link IllegalContextException}. The default, and what tests should use. */
  STRICT,
  /** Log a warning naming the verb and the callback, then run the verb. */
  WARN,
  /** Do not check. */
  OFF;

  /**
   * Parses a config value ({@code strict}, {@code warn} or {@code off}, any case). Never blocks; any thread.
   *
   * @throws IllegalArgumentException for any other value
   */
  public static ContextCheckMode parse(String value) {
    for (ContextCheckMode m : values()) {
      if (m.name().equalsIgnoreCase(value.trim())) {
        return m;
      }
    }
    throw new IllegalArgumentException(
        "midlayer.context-check: expected strict, warn or off, got '" + value + "'");
  }
}
