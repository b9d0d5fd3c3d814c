package dev.midlayer.ulp.rpc;

import dev.midlayer.device.Device;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The messages, big-endian: a request is {@code slot u32, length u32, bytes}; a response {@code slot u32,
 * status u32, length u32, bytes}, sent INLINE (its buffer is free once posted). The REP's private data is
 * {@code credits u32}.
 */
final class RpcWire {
  static final int REQUEST_HEADER = 8;
  static final int RESPONSE_HEADER = 12;
  static final int OK = 0;
  static final int HANDLER_FAILED = 1;
  static final Duration VERB_TIMEOUT = Duration.ofSeconds(10);

  private RpcWire() {}

  static <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(VERB_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new RpcException(what + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new RpcException(what + " timed out after " + VERB_TIMEOUT.toSeconds() + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RpcException(what + " was interrupted", e);
    }
  }

  static String on(Device d) {
    return " on " + d.name();
  }
}
