/** Internal helpers shared by the midlayer's actors; not an API, may change without notice. */
package dev.midlayer.internal;
