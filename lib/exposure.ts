/** Options of an Ingress in front of the proxy Service. */
export interface IngressExposureOptions {
  /** Host name clients use (a DNS name, `*.` wildcard allowed; no scheme, port or path). */
  readonly host: string;
  /**
   * `spec.ingressClassName`.
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * Secret holding the TLS certificate for `host` (created outside `dist/`, e.g. by cert-manager).
   * @default - no TLS section
   */
  readonly tlsSecretName?: string;
  /**
   * Namespace of the ingress controller: it may reach the proxy's port 8080 (beside
   * `proxy.clientNamespaces`). Required unless `proxy.clientNamespaces` is `["*"]`.
   * @default - none: synth fails
   */
  readonly controllerNamespace?: string;
}

/** Options of a Gateway API HTTPRoute in front of the proxy Service. */
export interface HttpRouteExposureOptions {
  /** Name of the Gateway the route attaches to. */
  readonly gatewayName: string;
  /**
   * Namespace of that Gateway.
   * @default - the route's own namespace
   */
  readonly gatewayNamespace?: string;
  /**
   * Listener of the Gateway (`sectionName`).
   * @default - every listener that accepts the route
   */
  readonly sectionName?: string;
  /**
   * Host names the route matches; the proxy accepts these in `Host`. Leave it unset (every host of
   * the listener) only together with `extraAllowedHosts` naming those hosts: the proxy refuses a
   * `Host` it does not know, so synth fails without one or the other.
   * @default - every host of the listener
   */
  readonly hostnames?: readonly string[];
  /**
   * Namespace of the gateway's data plane pods: they may reach the proxy's port 8080 (beside
   * `proxy.clientNamespaces`). Required unless `proxy.clientNamespaces` is `["*"]`.
   * @default - none: synth fails
   */
  readonly controllerNamespace?: string;
}

/** How clients outside the cluster reach the proxy, beyond `kubectl port-forward`. */
export class Exposure {
  /** A networking.k8s.io/v1 Ingress routing `/` of `host` to the proxy Service. */
  public static ingress(options: IngressExposureOptions): Exposure {
    return new Exposure('ingress', options, undefined);
  }

  /** A Gateway API HTTPRoute (gateway.networking.k8s.io/v1) to the proxy Service. */
  public static httpRoute(options: HttpRouteExposureOptions): Exposure {
    return new Exposure('http-route', undefined, options);
  }

  private constructor(
    /** `ingress` or `http-route`. */
    public readonly kind: 'ingress' | 'http-route',
    /** The Ingress options, for `ingress`. */
    public readonly ingress: IngressExposureOptions | undefined,
    /** The HTTPRoute options, for `http-route`. */
    public readonly httpRoute: HttpRouteExposureOptions | undefined,
  ) {}

  /** The controller namespace that narrows the proxy's ingress, if any. */
  public get controllerNamespace(): string | undefined {
    return this.ingress?.controllerNamespace ?? this.httpRoute?.controllerNamespace;
  }

  /** Host names clients send in `Host`, added to the proxy's allow list. */
  public get hostnames(): readonly string[] {
    return this.ingress ? [this.ingress.host] : [...(this.httpRoute?.hostnames ?? [])];
  }
}
