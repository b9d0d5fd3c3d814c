package dev.midlayer.testkit.conformance;

/** {@link DeviceAttributesContract} on the loopback driver. */
class LoopbackDeviceAttributesConformanceTest extends DeviceAttributesContract {
  @Override
  protected DriverUnderTest driver() {
    return DriverUnderTest.loopback();
  }
}
