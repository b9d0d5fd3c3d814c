package dev.midlayer.cm;

import dev.midlayer.device.Device;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A listener ({@code rdma_listen}): REQs and SIDR_REQs for its service ID on its port go to its sink. Getters
 * never block; any thread.
 */
public interface CmListener {
  /** The device it listens on. */
  Device device();

  /** The port it listens on. */
  int port();

  /** The service ID it listens for. */
  long serviceId();

  /**
   * Stops listening ({@code rdma_destroy_id} of a listening id): later REQs are rejected with
   * {@link RejectReason#NO_LISTENER}; connections accepted through it are not affected. <b>Never blocks</b>; any
   * thread. The stage completes once the CM has dropped the listener.
   */
  CompletionStage<Done> stop();
}
