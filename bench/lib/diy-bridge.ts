// The OCPP half both DIY targets share: ocpp-rpc's RPCServer in strict mode (every CALL and CALLRESULT
// validated against the OCPP 1.6 schemas) bridged to the gateway's topic contract. The targets differ
// only in how they reach the broker, which they pass in as `publish` and feed back through `route`.
import { RPCServer } from 'ocpp-rpc';

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export interface DiyBridge {
  /** A service message on ocpp/{cpId}/dn/{type}/{action}/{messageId}, its body already parsed. */
  route(topic: string, body: unknown): void;
  /** Starts the OCPP listener on an ephemeral loopback port; resolves with the port. */
  listen(): Promise<number>;
}

export function diyBridge(publish: (topic: string, body: unknown) => void): DiyBridge {
  const upstream = new Map<string, Waiter>(); // `${cpId}/${messageId}` -> the CP's CALL waiting for the service
  const clients = new Map<string, any>(); // ocpp-rpc ships no types for its client
  return {
    route(topic, body) {
      const [, cpId, , type, action, messageId] = topic.split('/') as [string, string, string, string, string, string];
      if (type === 'response' || type === 'error') {
        const key = `${cpId}/${messageId}`;
        const waiter = upstream.get(key);
        if (!waiter) return;
        upstream.delete(key);
        if (type === 'response') waiter.resolve(body);
        else waiter.reject(Object.assign(new Error('service error'), { rpcErrorCode: (body as { errorCode: string }).errorCode }));
        return;
      }
      const client = clients.get(cpId);
      if (!client || type !== 'request') return;
      client.call(action, body).then(
        (result: unknown) => publish(`ocpp/${cpId}/up/response/${action}/${messageId}`, result),
        (err: { rpcErrorCode?: string; message: string }) => publish(`ocpp/${cpId}/up/error/${action}/${messageId}`, { errorCode: err.rpcErrorCode ?? 'GenericError', errorDescription: err.message, errorDetails: {} }),
      );
    },
    async listen() {
      const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true } as ConstructorParameters<typeof RPCServer>[0]);
      server.on('client', (client: any) => {
        const cpId: string = client.identity;
        clients.set(cpId, client);
        client.on('close', () => { if (clients.get(cpId) === client) clients.delete(cpId); });
        client.handle(({ method, params, messageId }: { method: string; params: unknown; messageId: string }) => new Promise((resolve, reject) => {
          upstream.set(`${cpId}/${messageId}`, { resolve, reject });
          publish(`ocpp/${cpId}/up/request/${method}/${messageId}`, params);
        }));
      });
      const http = await server.listen(0, '127.0.0.1');
      return (http.address() as { port: number }).port;
    },
  };
}
