package dev.midlayer.ib;

/**
 * A verb was called with an argument that can never be valid (the kernel's {@code -EINVAL}): null,
 * blank, out of range, or not allowed for the object. Thrown at once by the verb, before anything
 * changed. {@link #field()} names the argument. Every method, the static checks included, never blocks and
 * may be called from any thread.
 */
public final class InvalidArgumentException extends MidlayerException {
  private static final long serialVersionUID = 1L;
  private final String field;

  /** The error for argument {@code field}; the message is {@code "field: problem"}. */
  public InvalidArgumentException(String field, String problem) {
    super(field + ": " + problem);
    this.field = field;
  }

  /** The name of the argument or field that was wrong. */
  public String field() {
    return field;
  }

  /** Throws if {@code value} is null; returns it otherwise. */
  public static <T> T requireNonNull(T value, String field) {
    if (value == null) {
      throw new InvalidArgumentException(field, "must not be null");
    }
    return value;
  }

  /** Throws if {@code value} is null or blank; returns it otherwise. */
  public static String requireNonBlank(String value, String field) {
    requireNonNull(value, field);
    if (value.isBlank()) {
      throw new InvalidArgumentException(field, "must not be blank");
    }
    return value;
  }
}
