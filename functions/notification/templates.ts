import { isoDate, type output, strictObject, string } from '../../shared/events/fields.ts';

export const LANGUAGES = ['fr', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];
/** The platform's language when a recipient has not chosen one. */
export const DEFAULT_LANGUAGE: Language = 'fr';

/**
 * The only values a message may show: the date and time of an appointment. Everything clinical (reason,
 * diagnosis, medications, specialty, document names) stays in the app behind authentication; a template
 * cannot reach it because the rules never pass it and render() rejects any other variable.
 */
const varsSchema = strictObject({
  date: isoDate.optional(),
  time: string()
    .regex(/^\d\d:\d\d$/)
    .optional(),
});
export type TemplateVars = output<typeof varsSchema>;

interface Text {
  subject: string;
  body: string;
}

const TEMPLATES = {
  'appointment.requested': {
    fr: {
      subject: 'Nouvelle demande de rendez-vous',
      body: 'Vous avez reçu une demande de rendez-vous{{ pour le date}}{{ à time}}. Ouvrez e-santé pour y répondre.',
    },
    en: {
      subject: 'New appointment request',
      body: 'You have a new appointment request{{ for date}}{{ at time}}. Open e-santé to respond.',
    },
  },
  'appointment.confirmed': {
    fr: {
      subject: 'Rendez-vous confirmé',
      body: 'Votre rendez-vous{{ du date}}{{ à time}} est confirmé. Les détails sont dans e-santé.',
    },
    en: {
      subject: 'Appointment confirmed',
      body: 'Your appointment{{ on date}}{{ at time}} is confirmed. Details are in e-santé.',
    },
  },
  'appointment.rejected': {
    fr: {
      subject: 'Demande de rendez-vous déclinée',
      body: 'Votre demande de rendez-vous n’a pas pu être acceptée. Ouvrez e-santé pour choisir un autre créneau.',
    },
    en: {
      subject: 'Appointment request declined',
      body: 'Your appointment request could not be accepted. Open e-santé to choose another slot.',
    },
  },
  'appointment.cancelled': {
    fr: {
      subject: 'Rendez-vous annulé',
      body: 'Un de vos rendez-vous a été annulé. Les détails sont dans e-santé.',
    },
    en: {
      subject: 'Appointment cancelled',
      body: 'One of your appointments was cancelled. Details are in e-santé.',
    },
  },
  'message.received': {
    fr: {
      subject: 'Nouveau message',
      body: 'Vous avez reçu un nouveau message. Ouvrez e-santé pour le lire.',
    },
    en: { subject: 'New message', body: 'You have a new message. Open e-santé to read it.' },
  },
  'referral.created': {
    fr: {
      subject: 'Nouvel adressage',
      body: 'Un adressage vers un spécialiste vous concernant a été créé dans e-santé.',
    },
    en: {
      subject: 'New referral',
      body: 'A referral to a specialist that concerns you was created in e-santé.',
    },
  },
  'referral.scheduled': {
    fr: {
      subject: 'Adressage : rendez-vous fixé',
      body: 'Un rendez-vous a été fixé pour un adressage vous concernant{{ le date}}{{ à time}}.',
    },
    en: {
      subject: 'Referral: appointment scheduled',
      body: 'An appointment was scheduled for a referral that concerns you{{ on date}}{{ at time}}.',
    },
  },
  'referral.accepted': {
    fr: {
      subject: 'Adressage accepté',
      body: 'Un adressage vous concernant a été accepté par le spécialiste.',
    },
    en: {
      subject: 'Referral accepted',
      body: 'A referral that concerns you was accepted by the specialist.',
    },
  },
  'referral.rejected': {
    fr: {
      subject: 'Adressage décliné',
      body: 'Un adressage vous concernant a été décliné. Les détails sont dans e-santé.',
    },
    en: {
      subject: 'Referral declined',
      body: 'A referral that concerns you was declined. Details are in e-santé.',
    },
  },
  'referral.completed': {
    fr: { subject: 'Adressage terminé', body: 'Un adressage vous concernant est terminé.' },
    en: { subject: 'Referral completed', body: 'A referral that concerns you is complete.' },
  },
  'referral.cancelled': {
    fr: { subject: 'Adressage annulé', body: 'Un adressage vous concernant a été annulé.' },
    en: { subject: 'Referral cancelled', body: 'A referral that concerns you was cancelled.' },
  },
  'consultation.available': {
    fr: {
      subject: 'Compte rendu de consultation',
      body: 'Un compte rendu de consultation est disponible dans e-santé.',
    },
    en: { subject: 'Consultation record', body: 'A consultation record is available in e-santé.' },
  },
  'prescription.available': {
    fr: { subject: 'Nouvelle ordonnance', body: 'Une nouvelle ordonnance est disponible dans e-santé.' },
    en: { subject: 'New prescription', body: 'A new prescription is available in e-santé.' },
  },
  'document.available': {
    fr: {
      subject: 'Nouveau document',
      body: 'Un nouveau document a été ajouté à votre dossier dans e-santé.',
    },
    en: { subject: 'New document', body: 'A new document was added to your record in e-santé.' },
  },
} as const satisfies Record<string, Record<Language, Text>>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

/** `{{ words var}}` prints " words value" when `var` is set, nothing otherwise. */
const SLOT = /\{\{([^}]*?)\s(date|time)\}\}/g;

const fill = (text: string, vars: TemplateVars): string =>
  text.replace(SLOT, (_, words: string, name: 'date' | 'time') => {
    const value = vars[name];
    return value ? `${words} ${value}` : '';
  });

export interface Rendered extends Text {
  language: Language;
}

export const render = (template: TemplateName, language: Language, vars: TemplateVars = {}): Rendered => {
  const safe = varsSchema.parse(vars);
  const text = TEMPLATES[template][language];
  return { language, subject: text.subject, body: fill(text.body, safe) };
};
