package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.context.IllegalContextException;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.AsyncEvent;
import dev.midlayer.device.Device;
import dev.midlayer.device.EventHandlerRegistration;
import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.monitor.Check;
import dev.midlayer.verbs.Fmr;
import dev.midlayer.verbs.MemoryRegion;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.SharedReceiveQueue;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The may-sleep rule for every may-sleep verb of the consumer API (every method that returns a
 * {@code CompletionStage}): called from an event handler of the driver's device, it throws
 * {@link IllegalContextException} naming itself and the handler, changes nothing, and the device's handlers
 * still get later events. A reflective check keeps the list complete. The refusals are provoked on purpose: the
 * test declares the monitor's MAY_SLEEP_IN_ATOMIC violation and asserts one per call. Needs link control (a
 * PORT_ERR is the event).
 *
 * <p>Seed rules: C4 (may-sleep verbs are refused in atomic context), C3 (event handlers run in atomic context).
 * IB spec: IBA vol. 1 §11.6.3 (unaffiliated events), Linux {@code might_sleep} in the verbs that may sleep.
 *
 * <p>Test methods run on JUnit's thread; the verbs under test are called from the event handler.
 */
public abstract class CallbackContextContract extends DriverContract {
  private static final String HANDLER = "may-sleep-probe";
  /** The consumer API's packages: everything a ULP calls (not spi, ib or internal). */
  private static final List<String> API_PACKAGES = List.of("dev.midlayer", "dev.midlayer.device",
      "dev.midlayer.verbs", "dev.midlayer.cq", "dev.midlayer.registry", "dev.midlayer.client",
      "dev.midlayer.context");

  /** A may-sleep call: the verb name its IllegalContextException must carry, and the call. */
  private record Call(String verb, Supplier<?> call) {}

  private static final class Quiet implements Client {
    private final String name;

    Quiet(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public boolean add(Device device, ClientId self) {
      return false;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) {}
  }

  @Test
  @DisplayName("inside an event handler every may-sleep verb of the consumer API (each method returning a "
      + "CompletionStage, listed by reflection) throws IllegalContextException naming the verb and the handler, "
      + "and nothing changes")
  void everyMaySleepVerbIsRefusedInAnEventHandler() throws Exception {
    assumeLinkControl(); // PORT_ERR is the event whose handler calls the verbs
    kit().expectViolations(Check.MAY_SLEEP_IN_ATOMIC); // every call below is refused on purpose
    Midlayer ml = kit().midlayer();
    Device dev = f.addDevice();
    ClientId client = await(ml.registerClient(new Quiet("bystander")));
    ConformanceFixture.Side s = f.side(dev, 64, 4096, null);
    QueuePair qp = await(s.pd.createQp(new QpInitAttr(QpType.RC, s.cq, s.cq, new QpCap(4, 4, 1, 1, 0), true,
        null, null)));
    SharedReceiveQueue srq = await(s.pd.createSrq(new SrqAttr(4, 1, 0), null, null));
    MemoryRegion fastReg = await(s.pd.allocMr(2));
    Fmr fmr = await(s.pd.allocFmr(AccessFlags.LOCAL_WRITE, 2));
    ProtectionDomain spare = await(dev.allocPd());
    EventHandlerRegistration[] self = new EventHandlerRegistration[1];
    QpAttr toInit = QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(1).accessFlags(0).build();

    Map<String, Call> calls = new LinkedHashMap<>();
    calls.put("Midlayer.registerDevice", new Call("registerDevice",
        () -> ml.registerDevice("never%d", null)));
    calls.put("Midlayer.unregisterDevice", new Call("unregisterDevice", () -> ml.unregisterDevice(dev)));
    calls.put("Midlayer.registerClient", new Call("registerClient", () -> ml.registerClient(new Quiet("never"))));
    calls.put("Midlayer.registerClient(Behavior)", new Call("registerClient",
        () -> ml.registerClient("never-b", Behaviors.<ClientMessage>ignore())));
    calls.put("Midlayer.registerClient(ActorRef)", new Call("registerClient",
        () -> ml.registerClient("never-r", kit().testKit().<ClientMessage>createTestProbe().getRef())));
    calls.put("Midlayer.unregisterClient", new Call("unregisterClient", () -> ml.unregisterClient(client)));
    calls.put("Device.queryDevice", new Call("queryDevice", dev::queryDevice));
    calls.put("Device.queryPort", new Call("queryPort", () -> dev.queryPort(1)));
    calls.put("Device.listResources", new Call("listResources", dev::listResources));
    calls.put("Device.registerEventHandler", new Call("registerEventHandler",
        () -> dev.registerEventHandler("never", e -> {})));
    calls.put("Device.unregisterEventHandler", new Call("unregisterEventHandler",
        () -> dev.unregisterEventHandler(self[0])));
    calls.put("EventHandlerRegistration.unregister", new Call("unregisterEventHandler", () -> self[0].unregister()));
    calls.put("Device.allocPd", new Call("allocPd", dev::allocPd));
    calls.put("Device.createCq", new Call("createCq", () -> dev.createCq(8, null, null, null)));
    calls.put("Device.allocCq", new Call("allocCq",
        () -> dev.allocCq(8, PollContext.ACTOR)));
    calls.put("CompletionQueue.destroy", new Call("destroyCq", () -> s.cq.destroy()));
    calls.put("ProtectionDomain.dealloc", new Call("deallocPd", spare::dealloc));
    calls.put("ProtectionDomain.registerMr", new Call("registerMr",
        () -> s.pd.registerMr(ByteBuffer.allocateDirect(64), AccessFlags.LOCAL_WRITE)));
    calls.put("ProtectionDomain.allocMr", new Call("allocMr", () -> s.pd.allocMr(1)));
    calls.put("ProtectionDomain.allocFmr", new Call("allocFmr", () -> s.pd.allocFmr(AccessFlags.LOCAL_WRITE, 1)));
    calls.put("ProtectionDomain.createQp", new Call("createQp", () -> s.pd.createQp(new QpInitAttr(QpType.RC, s.cq,
        s.cq, new QpCap(4, 4, 1, 1, 0), true, null, null))));
    calls.put("ProtectionDomain.createSrq", new Call("createSrq",
        () -> s.pd.createSrq(new SrqAttr(4, 1, 0), null, null)));
    calls.put("MemoryRegion.deregister", new Call("deregisterMr", fastReg::deregister));
    calls.put("Fmr.unmap", new Call("unmapFmr", fmr::unmap));
    calls.put("Fmr.dealloc", new Call("deallocFmr", fmr::dealloc));
    calls.put("QueuePair.modify", new Call("modifyQp", () -> qp.modify(toInit,
        QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS)));
    calls.put("QueuePair.destroy", new Call("destroyQp", qp::destroy));
    calls.put("QueuePair.drainSq", new Call("drainSq", qp::drainSq));
    calls.put("QueuePair.drainRq", new Call("drainRq", qp::drainRq));
    calls.put("QueuePair.drainQp", new Call("drainSq", qp::drainQp));
    calls.put("SharedReceiveQueue.modify", new Call("modifySrq", () -> srq.modify(new SrqAttr(4, 1, 2),
        SrqAttr.LIMIT)));
    calls.put("SharedReceiveQueue.destroy", new Call("destroySrq", srq::destroy));
    calls.put("QpConnect.connect", new Call("modifyQp", () -> QpConnect.connect(qp, s.lidPath(), 1, 1, 1,
        QpConnect.Params.defaults())));
    calls.put("QpConnect.toRtr", new Call("modifyQp", () -> QpConnect.toRtr(qp, s.lidPath(), 1, 1,
        QpConnect.Params.defaults())));
    calls.put("QpConnect.toRts", new Call("modifyQp", () -> QpConnect.toRts(qp, 1, QpConnect.Params.defaults())));
    calls.put("QpConnect.ud", new Call("modifyQp", () -> QpConnect.ud(qp, 1, 0x11111111, 0)));

    // The list covers every CompletionStage method of the API (a new may-sleep verb must be added here).
    Set<String> listed = new TreeSet<>();
    for (String key : calls.keySet()) {
      listed.add(key.contains("(") ? key.substring(0, key.indexOf('(')) : key);
    }
    assertEquals(maySleepMethodsOfTheApi(), listed, "the may-sleep verbs of the consumer API");

    Map<String, Object> outcome = new ConcurrentHashMap<>();
    CompletableFuture<Void> ran = new CompletableFuture<>();
    self[0] = await(dev.registerEventHandler(HANDLER, e -> {
      if (e.type() != AsyncEventType.PORT_ERR) {
        return;
      }
      for (Map.Entry<String, Call> c : calls.entrySet()) {
        try {
          Object result = c.getValue().call().get();
          outcome.put(c.getKey(), result == null ? "null" : result);
        } catch (Throwable t) {
          outcome.put(c.getKey(), t);
        }
      }
      ran.complete(null);
    }));
    f.linkDown(dev, 1); // PORT_ERR, delivered to the handler by the device's event actor
    ran.get(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS);

    List<Executable> checks = new ArrayList<>();
    for (Map.Entry<String, Call> c : calls.entrySet()) {
      String key = c.getKey();
      checks.add(() -> {
        IllegalContextException ex = assertInstanceOf(IllegalContextException.class, outcome.get(key), key);
        assertEquals(c.getValue().verb(), ex.verb(), key);
        assertTrue(ex.callback().contains(HANDLER) && ex.callback().contains(dev.name()), key + ": " + ex.callback());
      });
    }
    assertAll(checks);
    assertTrue(kit().monitor().violations(Check.MAY_SLEEP_IN_ATOMIC).size() >= calls.size(),
        () -> "the monitor reports each refused call: " + kit().monitor().report());

    // Nothing happened: every object is still there and the handler still registered.
    assertEquals(List.of(dev), ml.devices());
    assertEquals(List.of(client), ml.clients());
    assertEquals(QpState.RESET, qp.query().qpState());
    await(fmr.unmap());
    await(fastReg.deregister());
    await(srq.destroy());
    await(qp.destroy());
    await(spare.dealloc());
    CompletableFuture<AsyncEvent> again = new CompletableFuture<>();
    EventHandlerRegistration after = await(dev.registerEventHandler("after", e -> again.complete(e)));
    f.linkUp(dev, 1);
    assertEquals(AsyncEventType.PORT_ACTIVE, again.get(ConformanceFixture.DEADLINE_MS, TimeUnit.MILLISECONDS).type());
    await(after.unregister());
    await(self[0].unregister());
    await(fmr.dealloc());
    await(s.mr.deregister());
    await(s.cq.destroy());
    await(s.pd.dealloc());
  }

  /** "Type.method" for every public method of the API's public types that returns a CompletionStage. */
  private static Set<String> maySleepMethodsOfTheApi() throws IOException, URISyntaxException,
      ClassNotFoundException {
    Path root = Path.of(Midlayer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Set<String> found = new TreeSet<>();
    for (String pkg : API_PACKAGES) {
      List<String> classNames = new ArrayList<>();
      if (Files.isDirectory(root)) {
        try (Stream<Path> files = Files.list(root.resolve(pkg.replace('.', '/')))) {
          files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".class") && !n.contains("$"))
              .forEach(n -> classNames.add(pkg + "." + n.substring(0, n.length() - ".class".length())));
        }
      } else {
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(root.toFile())) {
          String prefix = pkg.replace('.', '/') + "/";
          jar.stream().map(java.util.jar.JarEntry::getName)
              .filter(n -> n.startsWith(prefix) && n.indexOf('/', prefix.length()) < 0 && n.endsWith(".class")
                  && !n.contains("$"))
              .forEach(n -> classNames.add(n.substring(0, n.length() - ".class".length()).replace('/', '.')));
        }
      }
      for (String name : classNames) {
        Class<?> type = Class.forName(name);
        if (!Modifier.isPublic(type.getModifiers())) {
          continue;
        }
        for (Method m : type.getDeclaredMethods()) {
          if (Modifier.isPublic(m.getModifiers()) && !m.isSynthetic()
              && CompletionStage.class.isAssignableFrom(m.getReturnType())) {
            found.add(type.getSimpleName() + "." + m.getName());
          }
        }
      }
    }
    return found;
  }
}
