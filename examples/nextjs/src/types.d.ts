// The session fields the guide's callbacks add (TypeScript declarations only).
import "next-auth";
declare module "next-auth" {
  interface Session {
    accessToken?: string;
  }
  interface User {
    organizationId?: string;
    organizationMemberships?: unknown;
    userType?: string;
  }
}
